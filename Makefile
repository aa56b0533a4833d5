# The two commands: `make run` (the demo, no services needed) and `make test`
# (the whole suite against the real PostgreSQL, Redis and Chromium; throw-away
# ones when none answers and the servers are installed).

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
# With DEBUG off the settings refuse the public built-in key: the demo uses a
# random key of its own, generated once into var/secret_key (ignored by git).
# Links in the demo's mails point at the port it serves (BASE_URL overrides).
DEMO_ENV := DATABASE_URL=$(DEMO_DATABASE_URL) REDIS_URL=$(DEMO_REDIS_URL) DEBUG=$${DEBUG:-false} \
	SECRET_KEY="$$(cat var/secret_key)" BASE_URL="$${BASE_URL:-http://$(HOST):$(PORT)}"

export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/helpdesk
export REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test install assets lint bench-seed clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

static_build/.built: package.json package-lock.json scripts/build-assets.sh scripts/subset_icons.py
	npm ci --no-audit --no-fund --loglevel=error
	PYTHON=$(PY) sh scripts/build-assets.sh

# The icon font is subset to the `ti-*` classes in templates/static/apps: redone
# (under a second) on every run, so that an icon added to a template shows.
assets: install static_build/.built
	@$(PY) scripts/subset_icons.py >/dev/null

var/secret_key:
	@mkdir -p var
	@umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

run: install assets var/secret_key
	@mkdir -p var/static
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py seed_demo
	@echo "Serving the helpdesk at http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	@$(DEMO_ENV) sh scripts/run-demo.sh $(HOST) $(PORT)

# pytest runs through check_services.py: against DATABASE_URL/REDIS_URL when they
# answer, else against throw-away servers under var/services/ stopped after it.
test: install assets
	@sh scripts/ensure-chromium.sh
	@sh scripts/ensure-dovecot.sh
	$(PY) scripts/check_services.py -- $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf var static_build node_modules
