# syntax=docker/dockerfile:1
# Triton server for the LayoutLMv3 ensemble: the NGC server image + this package's serving
# dependencies + Tesseract 5 built from source (OpenCL on unless TESSERACT_OPENCL=0).
# Targets: `server` (docker compose service layoutlmv3-triton-server) and `model-analyzer`
# (the same server plus Model Analyzer and perf_analyzer, which launches its own servers).
# Build with ./build.sh; the release pin lives in .env (TRITON_RELEASE).
ARG TRITON_RELEASE=24.10

# --- Tesseract from source, and a tesserocr wheel linked against it ------------------------
# Built on the server image itself so that glibc, Python and the libraries match.
FROM nvcr.io/nvidia/tritonserver:${TRITON_RELEASE}-py3 AS tesseract
ARG TESSERACT_VERSION=5.5.0
ARG TESSEROCR_VERSION=2.13.0
ARG TESSERACT_OPENCL=1
# tessdata_fast: the LSTM models tuned for speed; pinned to a tag of tesseract-ocr/tessdata_fast.
ARG TESSDATA_REF=4.1.0
ARG TESSDATA_LANGS="eng osd"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        autoconf automake build-essential libtool pkg-config \
        libleptonica-dev ocl-icd-opencl-dev opencl-headers \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src/tesseract
RUN curl -fsSL "https://github.com/tesseract-ocr/tesseract/archive/refs/tags/${TESSERACT_VERSION}.tar.gz" \
        | tar -xz --strip-components=1
# OpenMP is off: several preprocess instances each run one engine, and OpenMP threads
# would only oversubscribe the cores (the server also sets OMP_THREAD_LIMIT=1).
RUN if [ "${TESSERACT_OPENCL}" = "1" ]; then opencl=--enable-opencl; else opencl=--disable-opencl; fi \
    && ./autogen.sh \
    && ./configure --prefix=/usr/local "${opencl}" --disable-graphics --disable-openmp --disable-doc \
    && make -j"$(nproc)" \
    && make install DESTDIR=/staging \
    && make install \
    && ldconfig
RUN mkdir -p /staging/usr/local/share/tessdata \
    && for lang in ${TESSDATA_LANGS}; do \
        curl -fsSL -o "/staging/usr/local/share/tessdata/${lang}.traineddata" \
            "https://github.com/tesseract-ocr/tessdata_fast/raw/${TESSDATA_REF}/${lang}.traineddata"; \
    done
# From source, so that tesserocr uses this Tesseract and not the one bundled in its PyPI wheel.
RUN python3 -m pip wheel --no-cache-dir --no-deps --no-binary tesserocr -w /wheels \
        "tesserocr==${TESSEROCR_VERSION}"

# --- the server ------------------------------------------------------------------------------
FROM nvcr.io/nvidia/tritonserver:${TRITON_RELEASE}-py3 AS server
# Ubuntu 24.04 based releases mark the system Python as externally managed; this image is its only user.
ENV PIP_BREAK_SYSTEM_PACKAGES=1
# libleptonica-dev has the same name on every Ubuntu release (the runtime library does not).
# The NVIDIA container runtime mounts libnvidia-opencl.so.1 (capability "compute") but
# not the ICD file that lets the OpenCL loader find it.
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
RUN python3 -m pip install --no-cache-dir /tmp/wheels/tesserocr-*.whl ".[serve]" \
    && rm -rf /tmp/wheels \
    && python3 -c "import tesserocr, layoutlmv3_triton; print(tesserocr.tesseract_version())"
COPY --chmod=0755 docker/layoutlmv3-tritonserver.sh /usr/local/bin/layoutlmv3-tritonserver
# TOKENIZERS_PARALLELISM looks like a secret to hadolint; it is not.
# hadolint ignore=DL3064
ENV TESSDATA_PREFIX=/usr/local/share/tessdata \
    OMP_THREAD_LIMIT=1 \
    TOKENIZERS_PARALLELISM=false \
    HF_HUB_OFFLINE=1
# Tesseract's OpenCL build writes its device profile and kernel cache into the working
# directory: give the server user one it owns.
RUN mkdir -p /home/triton-server && chown triton-server:triton-server /home/triton-server
WORKDIR /home/triton-server
# triton-server (uid 1000) comes with the NGC image.
USER triton-server
EXPOSE 8000 8001 8002
CMD ["layoutlmv3-tritonserver", "--model-repository=/models", "--model-control-mode=none"]

# --- Model Analyzer: the server plus the profiling tools -------------------------------------
FROM server AS model-analyzer
USER root
# perf_analyzer ships in the tritonclient wheel of the same Triton version (24.10 -> 2.51.0).
ARG TRITON_CLIENT_VERSION=2.51.0
# The PyPI release nearest to TRITON_RELEASE (24.10's 1.45 is not on PyPI).
ARG MODEL_ANALYZER_VERSION=1.44.0
ARG USER_UID=1000
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# perf_analyzer links libb64 and the CUDA runtime of the image.
ENV LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:${LD_LIBRARY_PATH}}
RUN apt-get update \
    && apt-get install -y --no-install-recommends libb64-0d \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m pip install --no-cache-dir \
        "tritonclient[all]==${TRITON_CLIENT_VERSION}" "triton-model-analyzer==${MODEL_ANALYZER_VERSION}" \
    && pa="$(command -v perf_analyzer)" \
    && if ldd "${pa}" | grep "not found"; then \
        echo "perf_analyzer ${TRITON_CLIENT_VERSION} misses libraries on this base image" >&2; exit 1; fi \
    && model-analyzer --help > /dev/null
# Reports land in a host folder: run as the host user that owns it (./build.sh passes its uid).
RUN if ! getent passwd "${USER_UID}" > /dev/null; then useradd --uid "${USER_UID}" --create-home analyzer; fi
ENV HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /tmp
USER ${USER_UID}
CMD ["model-analyzer", "profile", "--config-file", "/config/sweep.yaml"]
