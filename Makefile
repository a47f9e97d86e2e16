# Two commands on a fresh machine: `make run` (the whole stack and the demo) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test browser lint format bench clean record-histories fuzz chaos

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m devstack

# Two test processes, each file in one of them (a file's fixtures stay together): the tests
# mostly wait on servers, so two halve the time on 2 cores.
test: $(STAMP) browser lint
	$(PY) -m pytest -n 2 --dist loadfile

# The browser tests drive Debian's chromium (installed with apt when missing) and check each page
# with axe-core from the npm registry (tests/browser/package-lock.json pins it).
CHROMIUM := /usr/bin/chromium
AXE      := tests/browser/node_modules/axe-core/axe.min.js

$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests (apt-get)"
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

$(AXE): tests/browser/package-lock.json
	npm ci --prefix tests/browser --silent --no-audit --no-fund
	@touch $(AXE)

browser: $(CHROMIUM) $(AXE)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Throughput, latency and memory on a stack of its own (under 10 minutes on 2 cores; sizes in
# BENCH_* variables, see docs/performance.md); the output is kept in .data/bench/latest.txt.
bench: $(STAMP)
	$(PY) -m bench

# Faults injected into a dev stack of its own while claims are walked (worker, Temporal, Postgres,
# API and delivery outages), each followed by exact checks that nothing was lost or done twice
# (about 6 minutes on 2 cores; `$(PY) -m chaos --help` for fewer claims or one scenario), then
# the tests marked `long` (a lost workflow task, a month-long safety case: about 1.5 minutes).
chaos: $(STAMP)
	$(PY) -m chaos
	$(PY) -m pytest -m long -q

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info

# Record histories of new workflow paths for test_replay: only names not yet recorded are written
# (recorded histories are never replaced), each pinned by a new file in tests/histories/pins/.
record-histories: $(STAMP)
	IME_RECORD_HISTORIES=1 $(PY) -m pytest $(filter-out tests/test_replay.py,$(shell grep -l 'await keep_history' tests/test_*.py)) -q

# Longer fuzzing runs than `make test` does: schema-driven (about 15 minutes on 2 cores), then
# the property-based tests with more examples (about 5 minutes).
fuzz: $(STAMP)
	IME_FUZZ_EXAMPLES=300 $(PY) -m pytest tests/test_fuzz.py -q --timeout 3600
	IME_PROPERTY_EXAMPLES=200 $(PY) -m pytest tests/test_properties.py -q --timeout 3600
