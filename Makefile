# Pitlane: `make run` serves the demo, `make test` runs every test. See README.md.
SHELL := /bin/bash
PORT ?= 8000
# uv from PATH, else installed into the project (.tools/) on first use.
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
PYTHON ?= python3
CHROMIUM_PATH ?= $(shell command -v chromium 2>/dev/null || echo /usr/bin/chromium)

# Everything below that runs the app reads the demo's settings from .env (see config/demo_env.py):
# the embedded defaults (SQLite, a server-less broker, local media), DEBUG off, plain http.
MANAGE := $(UV) run --frozen python manage.py
# Tests run with DEBUG off, as production does, over plain http on localhost, and never read .env.
TEST_ENV := PITLANE_ENV_FILE= PITLANE_VAR_DIR=$(CURDIR)/var/test \
	SECRET_KEY=tests-only-secret-key-not-for-production-use-0123456789 HTTPS=false \
	STATIC_MANIFEST=false DJANGO_ALLOW_ASYNC_UNSAFE=true CHROMIUM_PATH=$(CHROMIUM_PATH)

.PHONY: run dev demo-env banner seed link shell manage test lint format install chromium messages clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

install: $(if $(filter $(CURDIR)/.tools/bin/uv,$(UV)),$(CURDIR)/.tools/bin/uv)
	@$(UV) sync --frozen --quiet

# The demo's .env: made once with a fresh SECRET_KEY; `make run` records its PORT in it.
.env: | install
	@PORT=$(PORT) $(UV) run --frozen python -m config.demo_env

demo-env: install
	@PORT=$(PORT) $(UV) run --frozen python -m config.demo_env

# The demo as production runs it: migrate, collect and compress static files, seed, serve.
run: demo-env
	$(MANAGE) migrate --noinput -v0
	$(MANAGE) collectstatic --noinput -v0
	$(MANAGE) seed_demo
	@$(MANAGE) demo_banner
	PORT=$(PORT) exec $(UV) run --frozen honcho --procfile Procfile.demo start

# Development: Django's server with DEBUG on and auto-reload, on the demo's data.
dev: demo-env
	DEBUG=true $(MANAGE) migrate --noinput -v0
	DEBUG=true $(MANAGE) seed_demo
	DEBUG=true HTTPS=false PORT=$(PORT) exec $(UV) run --frozen honcho --procfile Procfile.dev start

# What the demo has to try, again: addresses, log-ins, customer links.
banner: install .env
	@$(MANAGE) demo_banner

seed: install .env
	$(MANAGE) seed_demo

# A customer's current link: make link DEALERSHIP=leiestreek-gent REF=DMS-00001
link: install .env
	@if [ -z "$(DEALERSHIP)" ] || [ -z "$(REF)" ]; then \
		echo 'Usage: make link DEALERSHIP=<dealership slug> REF=<DMS reference>; `make banner` lists some.'; exit 2; fi
	@$(MANAGE) checkin_link "$(DEALERSHIP)" "$(REF)"

shell: install .env
	$(MANAGE) shell

# Any other management command: make manage ARGS="check"
manage: install .env
	$(MANAGE) $(ARGS)

chromium:
	@if [ -x "$(CHROMIUM_PATH)" ]; then exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests…"; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		echo "The browser tests need Chromium: install it (sudo apt-get install chromium)"; \
		echo "or point CHROMIUM_PATH at a Chromium or Chrome binary."; exit 1; \
	fi

test: install chromium
	$(TEST_ENV) $(UV) run --frozen pytest $(PYTEST_ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	DEBUG=true $(UV) run --frozen mypy .
	DEBUG=true $(UV) run --frozen python manage.py makemigrations --check --dry-run

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

# Refresh the translation catalogues after changing translatable text (needs GNU gettext);
# the compiled .mo files are committed, so running the app does not.
messages: install
	for lang in nl fr de; do \
		DEBUG=true $(UV) run --frozen python manage.py makemessages -l $$lang --ignore=.venv --ignore=.tools --ignore=var --no-obsolete; \
	done
	DEBUG=true $(UV) run --frozen python manage.py compilemessages --ignore=.venv --ignore=.tools

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
