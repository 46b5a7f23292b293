# syntax=docker/dockerfile:1
# Workflow image: JupyterLab on NVIDIA's PyTorch image, with this package's training and
# export dependencies.  Notebooks train, export ONNX and write the model repository;
# `layoutlmv3-triton build-trt` builds the TensorRT engine here (TensorRT ships in the image).
ARG TRITON_RELEASE=26.11
FROM nvcr.io/nvidia/pytorch:${TRITON_RELEASE}-py3
ARG USER_UID=1000
# Ubuntu 24.04 based releases mark the system Python as externally managed; this image is its only user.
ENV PIP_BREAK_SYSTEM_PACKAGES=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /opt/layoutlmv3
COPY pyproject.toml README.md ./
COPY src/ src/
COPY client/ client/
COPY docker/constraints.txt docker/constraints.txt
# Keep NVIDIA's CUDA build of torch: a constraint on the installed version stops any
# requirement from swapping it for a PyPI wheel.  That version is a pre-release of the next
# torch (2.14.0a0+<commit>.nv26.11), so pyproject.toml's torch range has no upper bound.  NGC's own constraints (/etc/pip/constraint.txt
# since 25.03) are kept: setting PIP_CONSTRAINT would otherwise replace them.
# The tested versions (docker/constraints.txt) pin the rest, less what the image already ships.
# rapidocr only for its PP-OCR ONNX files (build-repo --ocr-engine ppocr, the GPU variants'
# default): without its dependencies (OpenCV, shapely, ...), which its files do not need.
# Then the image check: transformers must see this torch (transformers 5 disables torch below
# 2.6, and NGC's 2.6.0a0 counts as below) and a tiny LayoutLMv3 model and processor must load.
RUN python -c 'import torch; print(f"torch=={torch.__version__}")' > /tmp/torch-pin.txt \
    && PYTHONPATH=src python -m layoutlmv3_triton.images.constraints for-image docker/constraints.txt \
        -o /tmp/constraints.txt \
    && ngc="$(if [ -f /etc/pip/constraint.txt ]; then echo /etc/pip/constraint.txt; fi)" \
    && PIP_CONSTRAINT="${PIP_CONSTRAINT:-${ngc}} /tmp/torch-pin.txt /tmp/constraints.txt" \
        python -m pip install --no-cache-dir ".[train,notebook]" \
    && python -m pip install --no-cache-dir --no-deps "rapidocr==3.10.0" \
    && python -c "import onnx, onnxruntime, lightning, layoutlmv3_triton.export.tensorrt" \
    && python -m layoutlmv3_triton.images.checks workflow
# Notebooks and the model repository are host folders: run as the host user that owns
# them (./build.sh passes its uid).
RUN if ! getent passwd "${USER_UID}" > /dev/null; then useradd --uid "${USER_UID}" --create-home jupyter; fi
WORKDIR /workspace
USER ${USER_UID}
EXPOSE 8888
# No token in the image or the compose file: Jupyter prints a fresh one at start.
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--ServerApp.root_dir=/workspace"]
