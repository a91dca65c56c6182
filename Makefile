# The two commands of the README: `make demo` and `make test`. Both install what they need into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A CPU build of torch lies on this kind of machine's disk; elsewhere pip takes torch from PyPI.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: install demo test bench readme clean check-oe gpu-kit
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(FIND_LINKS) 'torch==2.13.0' || $(BIN)/pip install -q 'torch>=2.5'
	$(BIN)/pip install -q $(FIND_LINKS) -e '.[open,dev]'
	touch $(STAMP)

demo: install
	$(BIN)/pidnet-nb demo

test: install
	$(BIN)/python tools/run_tests.py

# Every route side by side with the peers (OpenVINO, NNCF), on a compile of the shipped QAT file.
bench: install
	$(BIN)/pip install -q $(FIND_LINKS) -e '.[open,dev,bench]'
	$(BIN)/pidnet-nb compile -c camvid/pidnet_small_camvid --calib pretrained_models/camvid/pidnet_s_camvid_qat.pt --out compile
	$(BIN)/python bench/bench_deploy.py --compile compile --threads 1 2 --rounds 5 --frames 10 --accuracy --json bench/results-cpu.json

# What tools/train_gpu.sh needs on a GPU machine without internet: the CamVid pack and the wheels it lacks (yacs).
gpu-kit: install
	$(BIN)/pidnet-nb pack -c camvid/pidnet_small_camvid DATASET.TRAIN_SET train+val
	$(BIN)/pip download -q --no-deps --only-binary=:all: -d wheels yacs

readme: install
	$(BIN)/python tools/readme.py

# The OE docker's versions (Python 3.8, torch 1.13) with the core install only: the horizon path against the stand-in.
# Needs a python3.8 (PY38=...); downloads torch 1.13.1 (several GB with its CUDA libraries) the first time.
PY38 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.8*/bin/python3.8) python3.8)
check-oe:
	test -x .venv38/bin/python || $(PY38) -m venv .venv38
	.venv38/bin/pip install -q 'torch==1.13.1' pytest fastcore
	.venv38/bin/pip install -q -e .
	.venv38/bin/python -c "import sys, torch; print('Python', sys.version.split()[0], 'torch', torch.__version__)"
	.venv38/bin/python -m pytest -q -p no:cacheprovider tests/test_horizon_backend.py

clean:
	rm -rf $(VENV) .venv38 _proc _docs .pytest_cache
