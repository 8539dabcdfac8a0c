# The two commands a newcomer needs: `make run` and `make test`. Everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
BROKERS ?= 1
PYTEST_ARGS ?=
RUN_ARGS ?=

.PHONY: help bootstrap venv portal-messages stack-up stack-down stack-status proto proto-check lint typecheck test test-unit test-integration test-e2e bench bench-scale run stop

help:
	@echo "make run          the whole system with simulated plants (local stack, services, console)"
	@echo "make test         bootstrap, start the local stack, run unit, integration and e2e tests"
	@echo "make stack-up     start Kafka (BROKERS=1|3), PostgreSQL, Mosquitto; apply migrations"
	@echo "make stack-down   stop everything the stack started"
	@echo "make proto        regenerate protobuf code;  make proto-check  fail when it is stale"
	@echo "make lint         ruff check, ruff format --check, mypy, proto-check"
	@echo "make bench        run every benchmark, write bench/results.md"
	@echo "make bench-scale  the scale scenario on its own three brokers, write bench/scale_results.md (and below the table in bench/results.md)"
	@echo "                  (SCALE_ARGS=\"--quick\" for a few minutes; --plants --meters --minutes ...)"
	@echo "make portal-messages  update the portal's message catalogs from its sources"

bootstrap:
	@deploy/local/install-system.sh

AXE := tests/e2e/axe/node_modules/axe-core/axe.min.js

venv: bootstrap $(AXE)
	@uv sync --all-packages --frozen -q

# axe-core for the portal's browser tests, from npm with the lockfile.
$(AXE): tests/e2e/axe/package.json tests/e2e/axe/package-lock.json
	@npm ci --prefix tests/e2e/axe --no-audit --no-fund --silent
	@touch $@

# Re-extract the portal's messages and update its catalogs (then translate the new ones in the .po).
portal-messages: venv
	@cd services/portal && ../../.venv/bin/pybabel extract -F babel.cfg --no-location --sort-output -o /tmp/epd-portal.pot . 2>/dev/null
	@cd services/portal && ../../.venv/bin/pybabel update -i /tmp/epd-portal.pot -d src/epd_portal/locale --ignore-obsolete -w 120 2>/dev/null

stack-up: venv
	@$(PY) -m epd_devstack up --brokers $(BROKERS)

stack-down:
	@if [ -x $(PY) ]; then $(PY) -m epd_devstack down; fi

stack-status:
	@$(PY) -m epd_devstack status

proto: venv
	@$(PY) tools/gen_proto.py services/common/src
	@echo "generated services/common/src/epd/v1"

proto-check:
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(PY) tools/gen_proto.py $$tmp >/dev/null && \
	if diff -r -q -x __pycache__ $$tmp/epd services/common/src/epd; then echo "protobuf code is up to date"; \
	else echo "generated protobuf code is stale: run 'make proto' and commit" >&2; exit 1; fi

# Every package the type checker reads; strictness per module is in pyproject.toml ([tool.mypy]).
MYPY_PACKAGES := $(foreach p,$(shell ls -d services/*/src/epd_* tools/devstack/src/epd_*),-p $(notdir $(p)))

lint: venv
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@$(MAKE) --no-print-directory typecheck
	@$(MAKE) --no-print-directory proto-check

typecheck: venv
	@.venv/bin/mypy $(MYPY_PACKAGES)

test: stack-up proto-check
	@$(PY) -m pytest tests/unit tests/integration tests/e2e $(PYTEST_ARGS)

test-unit: venv
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: stack-up
	@$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: stack-up
	@$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

bench: stack-up
	@$(PY) bench/run.py

# Its own three-broker cluster and database (bench/scale); the shared stack gives only PostgreSQL.
SCALE_ARGS ?=
bench-scale: stack-up
	@$(PY) -m bench.scale $(SCALE_ARGS)

run: venv
	@$(PY) -m epd_devstack run $(RUN_ARGS)

stop:
	@if [ -x $(PY) ]; then $(PY) -m epd_devstack stop; fi
