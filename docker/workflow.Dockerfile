# syntax=docker/dockerfile:1
# Workflow image: JupyterLab on NVIDIA's PyTorch image, with this package's training and
# export dependencies.  Notebooks train, export ONNX and write the model repository;
# `layoutlmv3-triton build-trt` builds the TensorRT engine here (TensorRT ships in the image).
ARG TRITON_RELEASE=24.10
FROM nvcr.io/nvidia/pytorch:${TRITON_RELEASE}-py3
ARG USER_UID=1000
# Ubuntu 24.04 based releases mark the system Python as externally managed; this image is its only user.
ENV PIP_BREAK_SYSTEM_PACKAGES=1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /opt/layoutlmv3
COPY pyproject.toml README.md ./
COPY src/ src/
COPY client/ client/
# Keep NVIDIA's CUDA build of torch: a constraint on the installed version stops any
# requirement from swapping it for a PyPI wheel (NGC's own constraints are kept too).
RUN python -c 'import torch; print(f"torch=={torch.__version__}")' > /tmp/torch-pin.txt \
    && PIP_CONSTRAINT="${PIP_CONSTRAINT:+${PIP_CONSTRAINT} }/tmp/torch-pin.txt" \
        python -m pip install --no-cache-dir ".[train,notebook]" \
    && python -c "import torch, onnx, onnxruntime, lightning, layoutlmv3_triton.build.tensorrt"
# Notebooks and the model repository are host folders: run as the host user that owns
# them (./build.sh passes its uid).
RUN if ! getent passwd "${USER_UID}" > /dev/null; then useradd --uid "${USER_UID}" --create-home jupyter; fi
WORKDIR /workspace
USER ${USER_UID}
EXPOSE 8888
# No token in the image or the compose file: Jupyter prints a fresh one at start.
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8888", "--no-browser", "--ServerApp.root_dir=/workspace"]
