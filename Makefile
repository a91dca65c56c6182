# The two commands of the README: `make demo` and `make test`. Both install what they need into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A CPU build of torch lies on this kind of machine's disk; elsewhere pip takes torch from PyPI.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: install demo test readme clean
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(FIND_LINKS) 'torch==2.13.0' || $(BIN)/pip install -q 'torch>=2.5'
	$(BIN)/pip install -q $(FIND_LINKS) -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/pidnet-nb demo

test: install
	$(BIN)/python tools/run_tests.py

readme: install
	$(BIN)/python tools/readme.py

clean:
	rm -rf $(VENV) _proc _docs .pytest_cache
