# Heliograph: two commands.
#   make run   set up (.venv, dependencies, migrations, demo data) and run web + worker + beat
#   make test  run the test suite
# Every setting is read from the environment (see README); nothing here asks questions.

PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.heliograph-installed


.PHONY: run test setup lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

var/secret_key:
	@mkdir -p var
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key

# The zero-setup default: development mode, a key kept under var/ (never committed), and
# links that point at the port served. Any of these set in the environment wins.
run: $(STAMP) var/secret_key
	DEBUG="$${DEBUG:-1}" PORT="$(PORT)" \
	HELIOGRAPH_SITE_URL="$${HELIOGRAPH_SITE_URL:-http://localhost:$(PORT)}" \
	SECRET_KEY="$${SECRET_KEY:-$$(cat var/secret_key)}" \
	$(BIN)/python manage.py run_heliograph

# The browser tests drive Debian's Chromium (Playwright with executable_path).
CHROMIUM ?= /usr/bin/chromium

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; \
	fi

# The edge tests run Debian's nginx-light with deploy/nginx/heliograph.conf.
NGINX ?= /usr/sbin/nginx

$(NGINX):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; \
	else \
		echo "The edge tests need Debian's nginx-light: sudo apt-get install nginx-light" >&2; exit 1; \
	fi

test: $(STAMP) $(CHROMIUM) $(NGINX)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf var .pytest_cache .ruff_cache
