# syntax=docker/dockerfile:1
# Client and profiling image: the Triton SDK image (perf_analyzer, tritonclient) plus this
# project's torch-free client.  Used by layoutlmv3-triton-client and layoutlmv3-perf-analyzer.
ARG TRITON_RELEASE=26.11
FROM nvcr.io/nvidia/tritonserver:${TRITON_RELEASE}-py3-sdk
ARG USER_UID=1000
# Ubuntu 24.04 based releases mark the system Python as externally managed; this image is its only user.
ENV PIP_BREAK_SYSTEM_PACKAGES=1
WORKDIR /opt/layoutlmv3
COPY pyproject.toml README.md ./
COPY src/ src/
COPY client/ client/
COPY docker/constraints.txt docker/constraints.txt
# The package with only the client's dependencies: numpy, Pillow, tritonclient, tqdm, at the
# tested versions (docker/constraints.txt) unless the SDK image ships them (its tritonclient).
# The client must not import torch or transformers: the check fails the build if it does.
RUN PYTHONPATH=src python3 -m layoutlmv3_triton.images.constraints for-image docker/constraints.txt \
        -o /tmp/constraints.txt \
    && PIP_CONSTRAINT=/tmp/constraints.txt python3 -m pip install --no-cache-dir ".[client]" \
    && layoutlmv3-client --help > /dev/null \
    && python3 -m layoutlmv3_triton.commands.perf_data --help > /dev/null \
    && python3 -c "import sys, layoutlmv3_client.cli, layoutlmv3_triton.measure.perf_data; \
bad = {'torch', 'transformers'} & set(sys.modules); sys.exit(f'client imports {bad}' if bad else 0)"
# Reports land in a host folder: run as the host user that owns it (./build.sh passes its uid).
RUN if ! getent passwd "${USER_UID}" > /dev/null; then useradd --uid "${USER_UID}" --create-home client; fi
WORKDIR /workspace
USER ${USER_UID}
CMD ["layoutlmv3-client", "--help"]
