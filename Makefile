# Two commands on a fresh machine: `make run` (the platform on its embedded
# default) and `make test` (the whole suite). Everything else here serves them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The tests' and linters' own packages (pyproject's [dev] extra): `make run` does without them.
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test venv system-deps system-deps-test messages demo play-demo serve lint check-ledger clean
.PHONY: js bench

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed (Debian 12: apt-get install python3 python3-venv)"; exit 1; }
	@test -x $(PY) || { echo "==> Creating the virtual environment $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> Installing the Python packages into $(VENV) (pip; a few minutes the first time)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt -e .
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	@echo "==> Installing the test and lint tools into $(VENV) (pip, the [dev] extra)"
	$(PY) -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt -e '.[dev]'
	@touch $(DEV_STAMP)

venv: $(STAMP)

# The browser's sealing scripts (frontend/js/): npm's packages as package-lock.json
# pins them, then esbuild's bundles in frontend/static/frontend/build/ (git-ignored).
NODE_STAMP := node_modules/.etender-installed
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ and npm are needed (Debian 12: apt-get install nodejs npm)"; exit 1; }
	@echo "==> Installing the browser scripts' npm packages (npm ci)"
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

js: $(NODE_STAMP)
	@echo "==> Bundling the browser scripts (esbuild)"
	@npm run --silent build

# Debian packages pip and npm cannot provide. `make run` installs only what the platform
# needs (a CJK font for PDFs, gettext, Node.js); `make test` adds what only the tests need
# (Chromium, Ceph's RADOS Gateway as the tests' S3 server, Redis, poppler-utils).
system-deps:
	@bash deploy/install-system-deps.sh run

system-deps-test:
	@bash deploy/install-system-deps.sh test

messages: $(STAMP)
	@echo "==> Compiling the translations"
	@$(PY) manage.py compilemessages --ignore '.venv/*' --ignore 'node_modules/*' -v 0

demo: $(STAMP) messages
	@echo "==> Migrating the database"
	@$(PY) manage.py migrate --no-input -v 1
	@echo "==> Loading the demo (idempotent)"
	$(PY) manage.py load_demo
	@# The browser bundle's hash into the ledger, as every deployment does (when `make js` built one).
	test ! -d frontend/static/frontend/build || $(PY) manage.py record_deployment --release demo

run: system-deps js demo
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C stops the server and the worker)"
	@echo "The demo's walk-through: README, \"A demo to walk through\"; the other devices: make play-demo"
	@trap 'kill 0' EXIT INT TERM; \
	  $(PY) manage.py db_worker --queue-name "*" --interval 1 & \
	  $(PY) -m config.serve -b $(HOST) -p $(PORT) config.asgi:application

# In a second terminal while `make run` serves: the demo opening's other devices (README, "A demo to walk through").
play-demo: $(STAMP)
	$(PY) manage.py play_demo --url http://$(HOST):$(PORT)

test: system-deps-test js $(DEV_STAMP) messages
	ETENDER_ENV=test ETENDER_VAR_DIR=$(CURDIR)/var/test $(VENV)/bin/pytest $(PYTEST_ARGS)

# The habits kept by tools: ruff's rules and its formatting (lines of 120 at most), mypy
# (strict on the framework-free packages: pyproject), the layers of docs/architecture.md
# as import-linter contracts ([tool.importlinter] in pyproject), and ESLint over the
# browser's scripts (eslint.config.js; eslint, @eslint/js and globals are package.json's
# devDependencies for this alone).
lint: $(DEV_STAMP) $(NODE_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-cache
	node_modules/.bin/eslint frontend/js

# Every benchmark with short defaults (a few minutes), then one table: bench, measure,
# subject, baseline, ratio, goal, met / not met (bench/run_all.py; full runs: bench/README.md).
# BENCH_ARGS="--only opening_throughput,hall_broadcast" picks some. Ceph, Redis and Chromium
# come with the tests' system packages; the browser bench seals with the built bundle.
BENCH_ARGS ?=
bench: system-deps-test js $(DEV_STAMP)
	$(PY) bench/run_all.py $(BENCH_ARGS)

check-ledger: $(STAMP)
	$(PY) manage.py verify_ledger

clean:
	rm -rf $(VENV) var test-output
