# The two commands of the README: `make conformance` and `make test`. Everything else is set-up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
UV_VERSION  := 0.13.8
TOOLS       := .tools
UV          := $(TOOLS)/bin/uv
VENV        := .venv
EMU_VENV    := .venv-emulator
PY          := $(VENV)/bin/python
# emulator/faithful as it runs: inside the emulator's venv, as the package `faithful`, with MiniStack's
# source read (it has no py.typed), so a MiniStack internal that moved or changed type fails lint.
MYPY_EMULATOR = MYPYPATH=emulator $(VENV)/bin/mypy --python-executable $(EMU_VENV)/bin/python \
  --follow-untyped-imports --cache-dir .mypy_cache/emulator -p faithful
export UV_CACHE_DIR ?= $(CURDIR)/.cache/uv
# Bytecode is cached (in __pycache__, git-ignored), even where the shell says otherwise: without
# it every process of a run (the controller, each xdist worker) compiled the suite's own modules
# and pytest re-rewrote every test module, measured at about 0.3 s per process (docs/performance.md).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help setup suite conformance test selftests lint docs bench clean emulator

help: ## list the targets
	@grep -hE '^[a-z/.-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@ $(VENV)/.suite

# The suite alone (no dev group: no linters, no Playwright): what a conformance run needs. Inexact,
# so that a development venv keeps its dev group.
$(VENV)/.suite: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode --no-dev --inexact
	@touch $@

$(EMU_VENV)/.synced: emulator/requirements.lock | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(EMU_VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(EMU_VENV)/bin/python --require-hashes -r emulator/requirements.lock
	@touch $@

setup: $(VENV)/.synced $(EMU_VENV)/.synced ## install the suite, its dev tools and the emulator (pinned, idempotent)

suite: $(VENV)/.suite ## install only the suite (no dev tools, no emulator): enough for a run against AWS

emulator/requirements.lock: emulator/requirements.in | $(UV)
	$(UV) pip compile $< --generate-hashes --python-version 3.11 --quiet -o $@ \
	  --custom-compile-command "make emulator/requirements.lock"

conformance: suite $(EMU_VENV)/.synced ## the offline rehearsal: emulator, deploy dev+staging+prod, run every suite, build the report
	rm -rf build/allure-results
	status=0; $(VENV)/bin/pytest --junitxml=build/junit.xml || status=$$?; \
	  $(MAKE) --no-print-directory report || status=$$((status ? status : 3)); exit $$status

selftests: setup report-tools browser ## the suite's own self-tests (each xdist worker runs its own emulator)
	$(VENV)/bin/pytest -c selftests/pytest.ini selftests -n auto

lint: setup ## ruff, mypy, the import layers (lint-imports) and cfn-lint (warnings fail too)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(MYPY_EMULATOR)
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(VENV)/bin/cfn-lint deploy/template.yaml deploy/account-baseline.yaml deploy/iam/conformance-role.yaml
	$(VENV)/bin/actionlint .github/workflows/*.yml

test: lint selftests conformance ## everything that proves the suite works (CI runs this)

emulator: suite $(EMU_VENV)/.synced ## run the emulator in the foreground for attach mode
	$(PY) -m emulator

docs: setup ## regenerate docs/checks.md from the check registry and the drift catalogue
	$(PY) -m selftests.catalogue

include mk/*.mk

clean: ## remove the virtual environments and run output
	rm -rf $(VENV) $(EMU_VENV) $(TOOLS) .cache build

bench: setup ## measure speed, API calls and memory; writes docs/performance.md and .json
	$(PY) -m bench --runs $(or $(RUNS),3)
