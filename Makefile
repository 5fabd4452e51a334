# flask-perf-template: the template's own commands. `make help` lists them.
# Needs only Python >= 3.11; everything else is installed into .venv from
# requirements-dev.txt on first use.

# Interpreters tried for .venv, in order: the first that runs and is 3.11 or newer.
# Each is run, not looked up: a pyenv shim of an inactive version exists but fails.
# `make test PYTHON3=/path/to/python3.12` tries that one only.
PYTHON3 ?= python3 python3.13 python3.12 python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# Marker that the venv holds everything requirements-dev.txt lists (re-made when it changes).
VENV_READY := $(VENV)/.requirements-installed
# Parallel pytest workers for the non-live tiers (pytest-xdist); 0 runs in-process.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv test test-fast test-live demo lint format clean distclean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "%-11s %s\n", $$1, $$2}'

# A venv that fails half way is removed, so the next run starts clean.
$(PY):
	@for candidate in $(PYTHON3); do \
		if "$$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then \
			echo "Creating $(VENV) with $$candidate"; \
			"$$candidate" -m venv $(VENV) || { rm -rf $(VENV); exit 1; }; \
			exit 0; \
		fi; \
	done; \
	echo "ERROR: the template's tools need Python 3.11 or newer and found none" \
		"(tried: $(PYTHON3)); set PYTHON3=/path/to/python3" >&2; \
	exit 1

$(VENV_READY): requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

venv: $(VENV_READY) ## Create .venv with the template's dev tools and every generated dependency

# Two runs: the non-live tests in parallel, then the live ones alone, so load and
# latency measurements never share the two cores with the bake matrix.
test: $(VENV_READY) ## Run every template test, live tiers included (services: see README)
	$(PY) -m pytest -m "not live" -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-live

test-fast: $(VENV_READY) ## Run the template tests without the live tier
	$(PY) -m pytest -m "not live" -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# pytest exits 5 when it selects no test: a live tier that is still empty is reported,
# not failed (the non-live run above is what guarantees tests ran).
test-live: $(VENV_READY) ## Run only the live tier (real gunicorn, nginx, haproxy, services)
	@$(PY) -m pytest -m live $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make: no live tests selected"; exit 0; fi; exit $$status

demo: $(VENV_READY) ## Bake the default project into build/demo, serve it, seed it, hit it (DEMO_KEEP=1 keeps it up)
	$(PY) -m tools.demo

lint: $(VENV_READY) ## Lint and format-check the template's own Python (hooks, tests, bench, tools)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV_READY) ## Fix safe lint findings and format the template's own Python
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean: ## Remove build/ (demo, bakes) and caches; keeps .venv
	rm -rf build .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV)

# --- bench: the side-by-side benchmark of baked projects ---
.PHONY: bench
# Bakes the default project, needs PostgreSQL, Redis, nginx and wrk on loopback; ~4 minutes.
# BENCH_ROUNDS / BENCH_DURATION / BENCH_CONNECTIONS / BENCH_ITEMS / BENCH_ONLY tune it;
# BENCH_KEEP=1 keeps the build directory and the server logs.
bench: $(VENV_READY) ## Benchmark the generated app against its floors and FastAPI, CPU per request (bench/results/latest.md)
	$(PY) -m bench.run
# --- end bench ---
