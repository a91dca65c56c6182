# The two commands of the README: `make demo` and `make test`. Both install what they need into .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A CPU build of torch lies on this kind of machine's disk; elsewhere pip takes torch from PyPI.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels)

.PHONY: install demo test bench readme clean check-oe gpu-kit rknn
install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(FIND_LINKS) 'torch==2.13.0' || $(BIN)/pip install -q 'torch>=2.5'
	$(BIN)/pip install -q $(FIND_LINKS) -e '.[open,dev]'
	touch $(STAMP)

demo: install
	$(BIN)/pidnet-nb demo

# The rknn environment too, for the RK3588 chapter; where it cannot be built, the tests say why and skip that chapter.
test: install
	$(MAKE) rknn || echo "make test: the rknn environment could not be built (above); the RK3588 chapter and its tests are skipped"
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

# Rockchip's rknn-toolkit2 (RK3588 compile and simulator) in its own environment: it pins numpy<=1.26.4, onnx<=1.18.0,
# protobuf<=4.25.4 and torch<=2.4.0. The torch pin is skipped (--no-deps): the toolkit runs with the CPU torch 2.13 when
# setuptools<80 (pkg_resources) is there. Then the core of pidnet_nb, nbdev for the chapter, and a Jupyter kernel that
# the main environment's JupyterLab lists as "pidnet_nb rknn".
RKNN_VENV ?= .venv-rknn
RKNN_PINS := 'numpy==1.26.4' 'onnx==1.18.0' 'protobuf==4.25.4' 'setuptools<80' 'opencv-python-headless<4.11'
rknn: $(RKNN_VENV)/.installed
$(RKNN_VENV)/.installed: pyproject.toml
	test -x $(RKNN_VENV)/bin/python || $(PYTHON) -m venv $(RKNN_VENV)
	$(RKNN_VENV)/bin/pip install -q $(FIND_LINKS) 'torch==2.13.0' 'setuptools<80' || $(RKNN_VENV)/bin/pip install -q 'torch>=2.5' 'setuptools<80'
	$(RKNN_VENV)/bin/pip install -q $(RKNN_PINS) psutil 'ruamel.yaml' scipy tqdm fast-histogram onnxruntime onnxscript yacs \
		fastcore 'nbdev>=3' matplotlib ipykernel pytest
	$(RKNN_VENV)/bin/pip install -q --no-deps 'rknn-toolkit2==2.5.0'
	$(RKNN_VENV)/bin/pip install -q --no-deps -e .
	$(RKNN_VENV)/bin/python -c "import pidnet_nb.rk3588 as r; print('rknn-toolkit2', r.toolkit_version(), 'in $(RKNN_VENV)')"
	$(RKNN_VENV)/bin/python -m ipykernel install --prefix $(VENV) --name pidnet-nb-rknn --display-name 'pidnet_nb rknn' > /dev/null
	touch $@

clean:
	rm -rf $(VENV) $(RKNN_VENV) .venv38 _proc _docs .pytest_cache
