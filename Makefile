# Hygie — two commands: `make run` starts the platform, `make test` passes the tests.
PYTHON ?= python3
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
RUN := $(UV) run --all-packages --frozen

.PHONY: run up demo test lint format typecheck schemas schemas-check bench install down clean

run: install ## install everything and start the whole platform (Ctrl-C stops it)
	$(RUN) hygie up

up: run

demo: install ## a demo hospital on the running platform (make run in another terminal), then the tour
	$(RUN) hygie demo $(DEMO_ARGS)
	$(RUN) hygie demo --tour

install: $(UV) ## create .venv with every package of the workspace
	$(UV) sync --all-packages --frozen

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet uv

test: install lint schemas-check ## lint, schema compatibility, then every test but benchmarks
	$(RUN) pytest -m "not bench" $(PYTEST_ARGS)

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

schemas: install ## regenerate schemas/ from the contracts (refuses incompatible changes)
	$(RUN) python -m hygie_contracts.schemas write schemas

schemas-check: install
	$(RUN) python -m hygie_contracts.schemas check schemas

bench: $(UV) ## benchmarks; results in bench/results/*.json
	$(UV) sync --all-packages --frozen --group bench
	$(RUN) --group bench python -m bench

down:
	-pkill -f "hygie up" || true

clean:
	rm -rf .venv .tools .pytest_cache .ruff_cache .mypy_cache
