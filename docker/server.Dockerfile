# syntax=docker/dockerfile:1
# Triton server for the LayoutLMv3 ensemble: the NGC server image + this package's `serving`
# extra (what the python-backend steps need: no torch, no CPU onnxruntime, no second
# tritonserver) + Tesseract built from source.
# Targets: `server` (docker compose service layoutlmv3-triton-server) and `model-analyzer`
# (the same server plus Model Analyzer, tritonclient and perf_analyzer as the SDK image of the
# same release has them).
# Build with ./build.sh; the release pin lives in .env (TRITON_RELEASE).
ARG TRITON_RELEASE=26.11
# 0: current Tesseract, CPU only (default).  1: Tesseract 5.3.4 with OpenCL (docs/production.md).
ARG TESSERACT_OPENCL=0

FROM nvcr.io/nvidia/tritonserver:${TRITON_RELEASE}-py3-sdk AS sdk
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Since 25.10 the SDK image installs perf_analyzer from PyPI (package perf-analyzer, which
# tritonclient[all] pulls in; server commit eb9599214) instead of building it: there is no
# /workspace/install/bin/perf_analyzer any more.  Its version here pins ours.
RUN python3 -m pip list --format=freeze | grep -iE '^perf[-_]analyzer==' > /workspace/perf-analyzer.txt

# --- Tesseract from source, and a tesserocr wheel linked against it ------------------------
# Built on the server image itself so that glibc, Python and the libraries match.
FROM nvcr.io/nvidia/tritonserver:${TRITON_RELEASE}-py3 AS tesseract-build
# tessdata_fast: the LSTM models tuned for speed; pinned to a tag of tesseract-ocr/tessdata_fast.
ARG TESSDATA_REF=4.1.0
ARG TESSDATA_LANGS="eng osd"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        autoconf automake build-essential libtool pkg-config \
        libleptonica-dev ocl-icd-opencl-dev opencl-headers \
    && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /staging/usr/local/share/tessdata \
    && for lang in ${TESSDATA_LANGS}; do \
        curl -fsSL -o "/staging/usr/local/share/tessdata/${lang}.traineddata" \
            "https://github.com/tesseract-ocr/tessdata_fast/raw/${TESSDATA_REF}/${lang}.traineddata"; \
    done
WORKDIR /src/tesseract

# Current Tesseract without OpenCL.  Upstream removed its OpenCL code in 5.4.0 (commit
# d5e000bc5, #4220): from then on `configure --enable-opencl` only warns.  The version is
# the one the test suite ran with (the Tesseract inside the tesserocr wheel of the venv).
# OpenMP is off: several preprocess instances each run one engine, and OpenMP threads
# would only oversubscribe the cores (the server also sets OMP_THREAD_LIMIT=1).
# The version is a tag of tesseract-ocr/tesseract: 5.5.3 (db0ec62f8) is the newest one there.
# The tested tesserocr wheel bundles 5.5.4, a version upstream has not tagged: move to it once it is.
FROM tesseract-build AS tesseract-opencl-0
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG TESSERACT_VERSION=5.5.3
RUN curl -fsSL "https://github.com/tesseract-ocr/tesseract/archive/refs/tags/${TESSERACT_VERSION}.tar.gz" \
        | tar -xz --strip-components=1 \
    && ./autogen.sh \
    && ./configure --prefix=/usr/local --disable-graphics --disable-openmp --disable-doc \
    && make -j"$(nproc)" \
    && make install DESTDIR=/staging \
    && make install \
    && ldconfig

# Tesseract 5.3.4, the last release with OpenCL, built with it.  OpenCL was experimental
# upstream and is often slower than the CPU path: measure before you keep it.  The build
# fails unless the binary reports OpenCL (it prints "OpenCL info" only when compiled with it).
FROM tesseract-build AS tesseract-opencl-1
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG TESSERACT_OPENCL_VERSION=5.3.4
RUN curl -fsSL "https://github.com/tesseract-ocr/tesseract/archive/refs/tags/${TESSERACT_OPENCL_VERSION}.tar.gz" \
        | tar -xz --strip-components=1 \
    && ./autogen.sh \
    && ./configure --prefix=/usr/local --enable-opencl --disable-graphics --disable-openmp --disable-doc \
    && make -j"$(nproc)" \
    && make install DESTDIR=/staging \
    && make install \
    && ldconfig \
    && if ! tesseract --version 2>&1 | grep -q "OpenCL info"; then \
        echo "tesseract ${TESSERACT_OPENCL_VERSION} was built without OpenCL" >&2; exit 1; fi

# The stage TESSERACT_OPENCL picks; BuildKit builds only that one.
# hadolint ignore=DL3006
FROM tesseract-opencl-${TESSERACT_OPENCL} AS tesseract
# The version docker/constraints.txt pins (tests/unit/test_gpu_host.py checks they agree).
ARG TESSEROCR_VERSION=2.13.0
# From source, so that tesserocr uses this Tesseract and not the one bundled in its PyPI wheel.
RUN python3 -m pip wheel --no-cache-dir --no-deps --no-binary tesserocr -w /wheels \
        "tesserocr==${TESSEROCR_VERSION}"

# --- the server ------------------------------------------------------------------------------
FROM nvcr.io/nvidia/tritonserver:${TRITON_RELEASE}-py3 AS server
# Ubuntu 24.04 based releases mark the system Python as externally managed; this image is its only user.
ENV PIP_BREAK_SYSTEM_PACKAGES=1
# libleptonica-dev has the same name on every Ubuntu release (the runtime library does not).
# The OpenCL build links libOpenCL; the NVIDIA container runtime mounts libnvidia-opencl.so.1
# (capability "compute") but not the ICD file that lets the OpenCL loader find it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libleptonica-dev ocl-icd-libopencl1 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /etc/OpenCL/vendors \
    && echo "libnvidia-opencl.so.1" > /etc/OpenCL/vendors/nvidia.icd
COPY --from=tesseract /staging/usr/local/ /usr/local/
COPY --from=tesseract /wheels/ /tmp/wheels/
RUN ldconfig
WORKDIR /opt/layoutlmv3
COPY pyproject.toml README.md ./
COPY src/ src/
COPY client/ client/
COPY docker/constraints.txt docker/constraints.txt
ENV TESSDATA_PREFIX=/usr/local/share/tessdata
# The tested versions (docker/constraints.txt), less what the base image ships; then the
# image check: Tesseract reads a page, a tiny processor loads through this transformers, no torch.
RUN PYTHONPATH=src python3 -m layoutlmv3_triton.images.constraints for-image docker/constraints.txt \
        -o /tmp/constraints.txt \
    && PIP_CONSTRAINT=/tmp/constraints.txt python3 -m pip install --no-cache-dir /tmp/wheels/tesserocr-*.whl ".[serving]" \
    && rm -rf /tmp/wheels /tmp/constraints.txt \
    && python3 -m layoutlmv3_triton.images.checks server --no-torch
COPY --chmod=0755 docker/layoutlmv3-tritonserver.sh /usr/local/bin/layoutlmv3-tritonserver
# TOKENIZERS_PARALLELISM looks like a secret to hadolint; it is not.
# hadolint ignore=DL3064
ENV OMP_THREAD_LIMIT=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HUB_OFFLINE=1
# jemalloc (shipped in the Triton image) returns freed memory to the OS: flat memory under
# load, where glibc's malloc looked like a leak (docs/memory.md).
ENV LD_PRELOAD=libjemalloc.so.2
# The server user's working directory (Tesseract's OpenCL build writes its device profile
# there) and the TensorRT engine cache of the onnxruntime-trt variant (a named volume in
# docker-compose.yml; Docker copies this folder's owner into a new volume).
RUN mkdir -p /home/triton-server /var/cache/layoutlmv3/trt \
    && chown triton-server:triton-server /home/triton-server /var/cache/layoutlmv3/trt
WORKDIR /home/triton-server
# triton-server (uid 1000) comes with the NGC image.
USER triton-server
EXPOSE 8000 8001 8002
CMD ["layoutlmv3-tritonserver", "--model-repository=/models", "--model-control-mode=none"]

# --- Model Analyzer: the server plus the profiling tools of the same release -----------------
FROM server AS model-analyzer
USER root
ARG TRITON_RELEASE=26.11
ARG USER_UID=1000
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# tritonclient from the SDK image's own wheel: since 26.05 that is only
# tritonclient-<version>-py3-none-any.whl (server commit 18aae79b6; r26.08's Dockerfile.sdk
# installs "tritonclient-*any*.whl"[all]).  [all] pulls perf_analyzer from PyPI, pinned to the
# SDK image's version.  Model Analyzer from its release branch r<YY.MM>, as the SDK image has it.
# The client libraries on LD_LIBRARY_PATH as in the SDK image (ENV in its Dockerfile.sdk).
COPY --from=sdk /workspace/install/lib/ /opt/triton-sdk/lib/
COPY --from=sdk /workspace/install/python/ /tmp/sdk-python/
COPY --from=sdk /workspace/perf-analyzer.txt /tmp/perf-analyzer.txt
ENV LD_LIBRARY_PATH=/opt/triton-sdk/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}
RUN apt-get update \
    && apt-get install -y --no-install-recommends libb64-0d \
    && rm -rf /var/lib/apt/lists/*
# perf_analyzer is a Python console script that runs the bundled binary and always exits 0
# (perf_analyzer's src/perf_analyzer/cli.py), and the binary has no --help option: the check
# is that `--version` prints the binary's version line, which it cannot if a library is missing.
RUN client="$(find /tmp/sdk-python -maxdepth 1 -name 'tritonclient-*-py3-none-any.whl' | head -n 1)" \
    && [ -n "${client}" ] \
    && PIP_CONSTRAINT=/tmp/perf-analyzer.txt python3 -m pip install --no-cache-dir "${client}[all]" \
        "https://github.com/triton-inference-server/model_analyzer/archive/refs/heads/r${TRITON_RELEASE}.tar.gz" \
    && rm -rf /tmp/sdk-python /tmp/perf-analyzer.txt \
    && version="$(perf_analyzer --version 2>&1)" \
    && case "${version}" in *"Perf Analyzer Version"*) ;; \
        *) echo "perf_analyzer does not run on this image: ${version}" >&2; exit 1 ;; esac \
    && model-analyzer --help > /dev/null
# Reports land in a host folder: run as the host user that owns it (./build.sh passes its uid).
# The tritonservers it launches build the onnxruntime-trt variant's engines into the cache folder,
# which the server stage gave to triton-server (uid 1000): give it to the user that runs here.
RUN if ! getent passwd "${USER_UID}" > /dev/null; then useradd --uid "${USER_UID}" --create-home analyzer; fi \
    && chown "${USER_UID}" /var/cache/layoutlmv3/trt
ENV HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /tmp
USER ${USER_UID}
CMD ["model-analyzer", "profile", "--config-file", "/config/sweep.yaml"]
