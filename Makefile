# Heliograph: two commands.
#   make run   set up (.venv, dependencies, migrations, demo data) and run web + worker + beat
#   make test  run the test suite (the SDKs' too: Python, CLI, TypeScript against a live server;
#              the browser tests in Chromium, with axe-core's accessibility check)
#   make sdk   regenerate the SDKs from the API's OpenAPI document (after changing the API)
# Every setting is read from the environment (see README); nothing here asks questions.

PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.heliograph-installed
SDK_TS := sdk/typescript
# npm ci writes this file: node_modules is current while it is newer than package-lock.json.
NODE_MODULES := $(SDK_TS)/node_modules/.package-lock.json
# axe-core, injected into Chromium by the accessibility tests (tests/browser/package.json).
BROWSER_TESTS := tests/browser
AXE := $(BROWSER_TESTS)/node_modules/.package-lock.json

.PHONY: run test setup lint clean sdk messages translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The Python SDK (sdk/python: heliograph_client and the `heliograph` command) goes into the
# same venv, so its tests and `make sdk` have it.
$(STAMP): pyproject.toml sdk/python/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -e sdk/python
	touch $(STAMP)

setup: $(STAMP)

var/secret_key:
	@mkdir -p var
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key

# The zero-setup default: development mode, a key kept under var/ (never committed), and
# links that point at the port served. Any of these set in the environment wins.
# The translation catalogues (locale/<language>/LC_MESSAGES/django.po) compiled by msgfmt,
# Debian's gettext; the .mo files are build output, never committed.
MSGFMT ?= /usr/bin/msgfmt
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

$(MSGFMT):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext; \
	else \
		echo "Compiling the translations needs Debian's gettext: sudo apt-get install gettext" >&2; exit 1; \
	fi

locale/%.mo: locale/%.po | $(MSGFMT)
	$(MSGFMT) --check --output-file=$@ $<

messages: $(MO_FILES)

# After changing a translatable string: update every catalogue from the code and templates
# (then translate what is new; tests/test_translations.py fails until every string is).
translations: $(STAMP) | $(MSGFMT)
	DEBUG=1 $(BIN)/python manage.py makemessages --no-obsolete --no-location --ignore=.venv --ignore=sdk \
		--ignore=tests --ignore=node_modules --ignore=var --ignore=bench \
		$(foreach code,de fr es pt_BR ja,--locale=$(code))
	$(MAKE) messages

run: $(STAMP) var/secret_key $(MO_FILES)
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

# The detection tests start Debian's Prometheus Alertmanager and Prometheus on loopback.
ALERTMANAGER ?= /usr/bin/prometheus-alertmanager
PROMETHEUS ?= /usr/bin/prometheus

$(ALERTMANAGER) $(PROMETHEUS):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends prometheus-alertmanager prometheus; \
	else \
		echo "The detection tests need Debian's prometheus-alertmanager and prometheus:" \
			"sudo apt-get install prometheus-alertmanager prometheus" >&2; exit 1; \
	fi


# The TypeScript SDK's tests need Node >= 18 and npm (Debian's nodejs is 18).
NPM ?= npm

$(NODE_MODULES): $(SDK_TS)/package-lock.json
	@if ! command -v $(NPM) >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
		else \
			echo "The TypeScript SDK needs Node >= 18 and npm: sudo apt-get install nodejs npm" >&2; exit 1; \
		fi; \
	fi
	cd $(SDK_TS) && $(NPM) ci --no-audit --no-fund --prefer-offline
	@touch $(NODE_MODULES)

$(AXE): $(BROWSER_TESTS)/package-lock.json $(NODE_MODULES)
	cd $(BROWSER_TESTS) && $(NPM) ci --no-audit --no-fund --prefer-offline
	@touch $(AXE)

# The edge tests run Debian's nginx-light with deploy/nginx/heliograph.conf.
NGINX ?= /usr/sbin/nginx

$(NGINX):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; \
	else \
		echo "The edge tests need Debian's nginx-light: sudo apt-get install nginx-light" >&2; exit 1; \
	fi


test: $(STAMP) $(MO_FILES) $(CHROMIUM) $(NGINX) $(ALERTMANAGER) $(PROMETHEUS) $(NODE_MODULES) $(AXE)
	$(BIN)/python -m pytest

# Regenerate the SDKs from this checkout's OpenAPI document (tests/sdk/test_sdk_generated.py
# fails until the committed files match the API).
sdk: $(STAMP) $(NODE_MODULES)
	$(BIN)/python sdk/generate.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf var .pytest_cache .ruff_cache $(SDK_TS)/dist
