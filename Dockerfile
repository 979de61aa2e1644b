FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY statuspage ./statuspage
COPY incidents ./incidents
COPY notifier ./notifier
COPY templates ./templates
COPY locale ./locale
COPY manage.py ./
# The translation catalogues are compiled here (msgfmt): .mo files are never committed.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir -e . \
    && DEBUG=1 python manage.py compilemessages --ignore=.venv \
    && useradd --create-home heliograph \
    && mkdir -p /app/var /snapshot /srv/heliograph \
    && chown heliograph /app/var /snapshot /srv/heliograph
USER heliograph
EXPOSE 8000
CMD ["gunicorn", "statuspage.conf.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--logger-class", "statuspage.conf.logs.GunicornLogger"]
