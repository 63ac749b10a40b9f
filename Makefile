# The two commands of the README: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REGION ?= us-east
export REGION
# The port `make run` serves on: `make run PORT=8001` when 8000 is taken.
PORT ?= 8000

# make test runs against real servers; these are the local defaults.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/livemall
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1

.PHONY: run test bench lint format static locale install install-test install-bench migrate seed browser-deps clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "LiveMall needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base: $(BIN)/python requirements/base.txt
	$(BIN)/pip install --quiet -r requirements/base.txt
	@touch $@

$(VENV)/.test: $(VENV)/.base requirements/test.txt
	$(BIN)/pip install --quiet -r requirements/test.txt
	@touch $@

$(VENV)/.bench: $(VENV)/.test requirements/bench.txt
	$(BIN)/pip install --quiet -r requirements/bench.txt
	@touch $@

install: $(VENV)/.base
install-test: $(VENV)/.test
install-bench: $(VENV)/.bench

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

static/vendor/.built: node_modules/.package-lock.json scripts/build-static.mjs
	node scripts/build-static.mjs
	@touch $@

static: static/vendor/.built

# Babel compiles the gettext catalogues in pure Python: no system gettext needed.
locale: $(VENV)/.base
	@$(BIN)/pybabel compile --domain django --directory locale --statistics 2>&1 | grep -v "^compiling" || true

migrate: install locale
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# DEBUG off: shoppers trying the demo see the shop's own translated error pages, not Django's
# technical ones listing every URL; WhiteNoise serves what collectstatic gathered.
run: install static locale
	unset DATABASE_URL REDIS_URL CELERY_BROKER_URL; \
	export DEBUG=false SITE_URL=http://127.0.0.1:$(PORT); \
	$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py seed_demo && \
	$(BIN)/python manage.py collectstatic --noinput -v0 && \
	echo "LiveMall $(REGION) on http://127.0.0.1:$(PORT) (embedded default; Ctrl-C stops)" && \
	exec $(BIN)/uvicorn livemall.asgi:application --host 127.0.0.1 --port $(PORT) --ws livemall.websocket_protocol:WebSocketProtocol --ws-per-message-deflate false

# Chromium for the browser tests comes from Debian's packages; without root or apt the
# browser tests are skipped and say why.
browser-deps:
	@bash scripts/ensure-chromium.sh

test: install-test static locale browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	  $(BIN)/python scripts/check-services.py
	DJANGO_ENV=test DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	  $(BIN)/pytest $(PYTEST_ARGS)

bench: install-bench static locale
	DJANGO_ENV=test DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	  $(BIN)/python -m tests.bench $(BENCH_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) node_modules static/vendor staticfiles var tests/artifacts
	find locale -name '*.mo' -delete
