# The two set-up commands: `make demo` and `make test`. Everything else is reached from them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test test-fast lint browser postgres bench scale-demo chaos clean

install: $(VENV)/.installed

# The lock pins every package, so a fresh machine installs what CI tested.
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

demo: install
	$(BIN)/mailops demo

lint: install
	$(BIN)/ruff check .

# The dashboard's browser test drives headless Chromium (Debian's package); CI starts without it.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# The store's tests run on SQLite and on a PostgreSQL server they start themselves from
# Debian's package (initdb, pg_ctl, postgres); CI starts without it.
postgres:
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

# Two workers (pytest-xdist), each file's tests on one of them so its module fixtures start
# once: the suite waits mostly on servers, subprocesses and a browser, so two workers overlap
# well on CI's 2 cores. The ten slowest tests are listed, to keep the suite under 10 minutes.
test: install lint browser postgres
	$(BIN)/pytest -n 2 --dist loadfile --durations=10

# The inner loop: everything but the tests marked slow (see pyproject.toml), on two workers.
test-fast: install lint
	$(BIN)/pytest -n 2 --dist loadfile -m "not slow"

# The benchmarks (bench/, about 10 minutes on 2 vCPUs): every scenario against the sandbox on
# 127.0.0.1, each row appended to BENCHMARKS.md. Not part of `make test`.
bench: install
	$(BIN)/python bench/run.py --record

# The several-machines set-up on this one (about 40 s): a Prefect server on PostgreSQL, a
# process work pool with two workers, prefect.yaml deployed, daily-health-fanout over the
# medium sandbox into a PostgreSQL trend store, checked, and everything stopped again.
scale-demo: install postgres
	$(BIN)/python bench/scale_out.py demo

# The chaos run (about 8 minutes): the demo's five weeks with faults on every API, the
# bad-input corpus, then the reconciliation against the sandbox's ground truth; exits 1 on any
# difference.
chaos: install
	$(BIN)/mailops chaos

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm
