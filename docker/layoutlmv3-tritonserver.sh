#!/bin/sh
# tritonserver with its admin APIs behind a header, and the python backend's shared memory
# sized for this ensemble.
#
# Admin APIs: the model repository, logging, shared-memory and trace APIs can reload models,
# change log files or map memory: they answer only requests that carry the key.  Over HTTP
# the header is "${TRITON_ADMIN_HEADER}: ${TRITON_ADMIN_KEY}"; over gRPC tritonserver
# prefixes the header name, so gRPC clients send "triton-grpc-protocol-admin-key: <key>".
# Without a key configured, a random one that nobody knows locks them for the life of the
# container (tritonserver refuses an empty value).  Health, metadata, inference, model
# config and statistics stay open.
#
# Python backend shared memory: each python-backend instance exchanges tensors through a
# region in /dev/shm that starts at shm-default-byte-size and grows by shm-growth-byte-size.
# One preprocess response can carry 64 windows of pixel values (about 40 MB; computed in
# layoutlmv3_triton/repository/python_backend.py), so the region starts at 64 MiB and grows by
# 64 MiB instead of the backend's 1 MB steps.
#
# Repository check: the repository committed in git is the local CPU variant (its model step
# imports onnxruntime, which this image lacks) without model.onnx.  Served as it is, every
# load fails and a restart policy loops.  So before tritonserver starts, a repository of this
# project must have been built for a variant this image serves; otherwise the launcher says
# which build-repo command to run and exits 78 (layoutlmv3_triton/repository/manifest.py).
set -eu

python3 -m layoutlmv3_triton.repository.manifest "$@"

header="${TRITON_ADMIN_HEADER:-admin-key}"
key="${TRITON_ADMIN_KEY:-}"
if [ -z "$key" ]; then
    key="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    echo "layoutlmv3-tritonserver: TRITON_ADMIN_KEY is not set; the admin APIs are locked" >&2
fi
restricted="model-repository,logging,shared-memory,trace"
shm_default="${TRITON_PYTHON_SHM_DEFAULT_BYTES:-67108864}"
shm_growth="${TRITON_PYTHON_SHM_GROWTH_BYTES:-67108864}"

exec tritonserver \
    --http-restricted-api="${restricted}:${header}=${key}" \
    --grpc-restricted-protocol="${restricted}:${header}=${key}" \
    --backend-config="python,shm-default-byte-size=${shm_default}" \
    --backend-config="python,shm-growth-byte-size=${shm_growth}" \
    "$@"
