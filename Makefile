# Both targets bootstrap their own virtual environment, so they work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench bench-cli demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The gates, in order: style, strict types where decisions and orchestration live, types everywhere else.
define LINT
$(BIN)/ruff check .
$(BIN)/mypy --strict domain policies workflows
$(BIN)/mypy activities connectors workers reporting
endef

run: $(STAMP)
	$(BIN)/noshow up

# Two test processes (pytest-xdist), each with its own Temporal dev server and Postgres; `--dist loadfile` keeps a
# module on one process, so a module-scoped stack is started once. TEST_WORKERS=0 runs in this process alone.
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS) --dist loadfile

test: $(STAMP)
	$(LINT)
	$(BIN)/pytest -q -p no:cacheprovider $(XDIST) $(PYTEST_ARGS)

# the fast lane (about 2.5 minutes): no server started (Temporal, Postgres), no subprocess stack, no Chromium
test-fast: $(STAMP)
	$(LINT)
	$(BIN)/pytest -q -p no:cacheprovider $(XDIST) -m "not e2e and not slow and not browser and not temporal and not postgres" $(PYTEST_ARGS)

lint: $(STAMP)
	$(LINT)

# the engine against bare Temporal, then the webhook acknowledgement under a burst and the CLI's start-up
bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/webhook_ack.py
	$(BIN)/python bench/cli_startup.py

bench-cli: $(STAMP)
	$(BIN)/python bench/cli_startup.py

clean:
	rm -rf $(VENV) data
