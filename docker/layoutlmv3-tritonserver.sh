#!/bin/sh
# tritonserver with its admin APIs behind a header.
#
# The model repository, logging, shared-memory and trace APIs can reload models, change
# log files or map memory: they answer only requests that carry the header
# "${TRITON_ADMIN_HEADER}: ${TRITON_ADMIN_KEY}".  Without a key configured, a random one
# that nobody knows locks them for the life of the container (tritonserver refuses an
# empty value).  Health, metadata, inference, model config and statistics stay open.
set -eu

header="${TRITON_ADMIN_HEADER:-admin-key}"
key="${TRITON_ADMIN_KEY:-}"
if [ -z "$key" ]; then
    key="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    echo "layoutlmv3-tritonserver: TRITON_ADMIN_KEY is not set; the admin APIs are locked" >&2
fi
restricted="model-repository,logging,shared-memory,trace"

exec tritonserver \
    --http-restricted-api="${restricted}:${header}=${key}" \
    --grpc-restricted-protocol="${restricted}:${header}=${key}" \
    "$@"
