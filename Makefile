# The two set-up commands: `make demo` and `make test`. Everything else is reached from them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test lint browser bench chaos clean

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

test: install lint browser
	$(BIN)/pytest

# The benchmarks (bench/, about 10 minutes on 2 vCPUs): every scenario against the sandbox on
# 127.0.0.1, each row appended to BENCHMARKS.md. Not part of `make test`.
bench: install
	$(BIN)/python bench/run.py --record

# The chaos run (about 8 minutes): the demo's five weeks with faults on every API, the
# bad-input corpus, then the reconciliation against the sandbox's ground truth; exits 1 on any
# difference.
chaos: install
	$(BIN)/mailops chaos

clean:
	rm -rf $(VENV) data/*.db data/*.db-wal data/*.db-shm
