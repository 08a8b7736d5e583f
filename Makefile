# Everything lfkit needs installs from this file: `make audit` runs the main job, `make test` the tests.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install audit test test-all browser labelstudio bench lint

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0  # the CPU build on this disk; first, so nothing pulls CUDA
	$(BIN)/python -m pip install -q -e ".[dev,dask]"
	touch $@

# The audit loads (and so validates) the rules itself; `lfkit check` lists its lint warnings too.
audit: install
	@mkdir -p out
	$(BIN)/lfkit audit examples/madewithml/projects.json --rules rules/madewithml --top 20 --html out/audit.html --force

# Headless Chromium and its driver, for the HTML report's browser test (Debian packages).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

# Label Studio for the round-trip test (tests/test_labelstudio.py), in its own venv so that its
# many pinned dependencies (Django, ...) never meet lfkit's; the test finds it at $(LS_VENV).
LS_VENV ?= .venv-labelstudio
LABEL_STUDIO_VERSION = 1.23.2

labelstudio: $(LS_VENV)/.installed-$(LABEL_STUDIO_VERSION)

$(LS_VENV)/.installed-$(LABEL_STUDIO_VERSION):
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install -q --upgrade pip
	$(LS_VENV)/bin/python -m pip install -q label-studio==$(LABEL_STUDIO_VERSION)
	touch $@

# Locally `make test` skips tests marked slow (`make test-all` runs them); CI (CI=true) runs all.
# Two pytest-xdist workers, a test file per worker at a time (its module fixtures built once); files
# that share spaCy or the browser run in one worker, costliest first (tests/conftest.py).
PYTEST = $(BIN)/python -m pytest -q -n $(or $(WORKERS),2) --dist loadfile
test: install browser labelstudio
	$(PYTEST) $(if $(CI),,-m "not slow")

test-all: install browser labelstudio
	$(PYTEST)

bench: install
	$(BIN)/python benchmarks/bench_audit_e2e.py
	$(BIN)/python benchmarks/bench_audit_quality.py --quick
	$(BIN)/python benchmarks/bench_apply.py --quick
	$(BIN)/python benchmarks/bench_rule_scaling.py --quick
	$(BIN)/python benchmarks/bench_dask.py --quick

lint: install
	$(BIN)/ruff check lfkit tests benchmarks
	$(BIN)/ruff format --check lfkit tests benchmarks
	$(BIN)/mypy lfkit  # --strict, configured in pyproject.toml
