FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY statuspage ./statuspage
COPY incidents ./incidents
COPY notifier ./notifier
COPY templates ./templates
COPY manage.py ./
RUN pip install --no-cache-dir -e . && useradd --create-home heliograph \
    && mkdir -p /app/var /snapshot /srv/heliograph \
    && chown heliograph /app/var /snapshot /srv/heliograph
USER heliograph
EXPOSE 8000
CMD ["gunicorn", "statuspage.conf.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--logger-class", "statuspage.conf.logs.GunicornLogger"]
