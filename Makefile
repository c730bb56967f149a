# The two commands: `make demo` (the Black Friday simulation, no AWS account) and `make test`.
# Both build their own virtualenv from the pinned requirements files first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ORDERS ?= 10000
WORKERS ?= 3
PYTEST_ARGS ?=

.PHONY: venv lint typecheck test demo local-up bench clean

$(STAMP): requirements.txt requirements-dev.txt worker/requirements.txt policy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .

typecheck: venv
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest $(PYTEST_ARGS)

demo: venv
	$(PY) -m worker demo --orders $(ORDERS) --workers $(WORKERS)

local-up: venv
	$(PY) -m worker local up

bench: venv
	$(PY) -m bench.worker
	$(PY) -m bench.producer

clean:
	rm -rf $(VENV) policy/.venv .mypy_cache .ruff_cache .pytest_cache .demo
