# Pitlane: `make run` serves the demo, `make test` runs every test. See README.md.
SHELL := /bin/bash
PORT ?= 8000
# uv from PATH, else installed into the project (.tools/) on first use.
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
PYTHON ?= python3
CHROMIUM_PATH ?= $(shell command -v chromium 2>/dev/null || echo /usr/bin/chromium)

# The embedded defaults for a local demo: SQLite, a server-less broker, local media.
RUN_ENV := DEBUG=true DEMO_MODE=true PORT=$(PORT)
# Tests run with DEBUG off, as production does, over plain http on localhost.
TEST_ENV := PITLANE_VAR_DIR=$(CURDIR)/var/test SECRET_KEY=tests-only-secret-key-not-for-production-use-0123456789 \
	SECURE_SSL_REDIRECT=false SESSION_COOKIE_SECURE=false CSRF_COOKIE_SECURE=false \
	STATIC_MANIFEST=false DJANGO_ALLOW_ASYNC_UNSAFE=true CHROMIUM_PATH=$(CHROMIUM_PATH)

.PHONY: run test lint format install chromium messages clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

install: $(if $(filter $(CURDIR)/.tools/bin/uv,$(UV)),$(CURDIR)/.tools/bin/uv)
	$(UV) sync --frozen --quiet

run: install
	$(RUN_ENV) $(UV) run --frozen python manage.py migrate --noinput -v0
	$(RUN_ENV) $(UV) run --frozen python manage.py seed_demo
	@$(RUN_ENV) $(UV) run --frozen python manage.py demo_banner
	$(RUN_ENV) exec $(UV) run --frozen honcho --procfile Procfile.demo start

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
