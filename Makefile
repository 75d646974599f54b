# Set-up and everyday targets. Every target creates .venv itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check
export IAM_AUDIT_CACHE_DIR ?= $(CURDIR)/.venv/iam-audit-cache

.PHONY: demo test lint typecheck bench fuzz wheel clean install install-dev docs

$(VENV)/.base: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip
	$(PIP) install -c constraints.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PIP) install -c constraints.txt -e '.[dev]'
	touch $@

$(VENV)/.bench: $(VENV)/.dev
	$(PIP) install -c constraints.txt -e '.[dev,bench]'
	touch $@

install: $(VENV)/.base
install-dev: $(VENV)/.dev

## demo: install and audit the bundled example (it has findings on purpose)
demo: $(VENV)/.base
	@$(VENV)/bin/iam-audit check fixtures/demo; status=$$?; \
	  if [ $$status -gt 1 ]; then exit $$status; fi; \
	  echo; echo "iam-audit exited $$status (1 = findings at or above --fail-on high)."

## test: the whole suite
test: $(VENV)/.dev
	$(PY) -m pytest -n 2 -q

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check auditor tests
	$(VENV)/bin/mypy

## docs: regenerate docs/rules.md from the rules' own metadata (a test fails when it is stale)
docs: $(VENV)/.base
	$(VENV)/bin/iam-audit rules --format markdown > docs/rules.md.tmp && mv docs/rules.md.tmp docs/rules.md

## bench: speed and memory against the peers (not part of make test)
bench: $(VENV)/.bench
	$(PY) tests/bench/run_bench.py

## fuzz: the long property-based run (make test runs a short one)
fuzz: $(VENV)/.dev
	IAM_AUDIT_FUZZ_EXAMPLES=20000 $(PY) -m pytest -q tests -m fuzz -p no:cacheprovider

wheel: $(VENV)/.dev
	$(PY) -m pip wheel -q --no-deps -w dist .

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache
