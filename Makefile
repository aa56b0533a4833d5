# The two commands: `make run` (the demo, no services needed) and `make test`
# (the whole suite against the real PostgreSQL, Redis and Chromium).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

# `make run` uses the embedded defaults whatever the shell exports; pass
# DEMO_DATABASE_URL / DEMO_REDIS_URL to point the demo elsewhere.
DEMO_DATABASE_URL ?= sqlite:///$(CURDIR)/var/helpdesk.sqlite3
DEMO_REDIS_URL ?=
DEMO_ENV := DATABASE_URL=$(DEMO_DATABASE_URL) REDIS_URL=$(DEMO_REDIS_URL) DEBUG=$${DEBUG:-false}

export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/helpdesk
export REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test install assets lint bench-seed clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

static_build/.built: package.json package-lock.json scripts/build-assets.sh
	npm ci --no-audit --no-fund --loglevel=error
	sh scripts/build-assets.sh

assets: static_build/.built

run: install assets
	@mkdir -p var/static
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py seed_demo
	@echo "Serving the helpdesk at http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	@$(DEMO_ENV) sh scripts/run-demo.sh $(HOST) $(PORT)

test: install assets
	@$(PY) scripts/check_services.py
	@sh scripts/ensure-chromium.sh
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf var static_build node_modules
