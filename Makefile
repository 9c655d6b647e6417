# Two commands on a fresh machine: `make run` (the platform on its embedded
# default) and `make test` (the whole suite). Everything else here serves them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test venv system-deps messages demo serve lint check-ledger clean
.PHONY: js

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed (Debian 12: apt-get install python3 python3-venv)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The browser's sealing scripts (frontend/js/): npm's packages as package-lock.json
# pins them, then esbuild's bundles in frontend/static/frontend/build/ (git-ignored).
NODE_STAMP := node_modules/.etender-installed
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ and npm are needed (Debian 12: apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

js: $(NODE_STAMP)
	npm run --silent build

# Debian packages pip cannot provide: the browser for Playwright, a CJK font for
# PDFs, gettext for translations, and Ceph's RADOS Gateway (the tests' S3 server).
system-deps:
	@bash deploy/install-system-deps.sh

messages: $(STAMP)
	$(PY) manage.py compilemessages --ignore '.venv/*' -v 0

demo: $(STAMP) messages
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py load_demo
	@# The browser bundle's hash into the ledger, as every deployment does (when `make js` built one).
	test ! -d frontend/static/frontend/build || $(PY) manage.py record_deployment --release demo

run: system-deps js demo
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C stops the server and the worker)"
	@trap 'kill 0' EXIT INT TERM; \
	  $(PY) manage.py db_worker --queue-name "*" --interval 1 & \
	  $(PY) -m config.serve -b $(HOST) -p $(PORT) config.asgi:application

test: system-deps js $(STAMP) messages
	ETENDER_ENV=test ETENDER_VAR_DIR=$(CURDIR)/var/test $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

check-ledger: $(STAMP)
	$(PY) manage.py verify_ledger

clean:
	rm -rf $(VENV) var test-output
