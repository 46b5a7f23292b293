#!/usr/bin/env bash
# Build the project's Docker images.  The images themselves are defined in
# docker-compose.yml (build sections) and docker/*.Dockerfile; this script checks the
# tools, prepares the host folders the containers write into, and runs `docker compose build`.
set -euo pipefail

SERVICES=(layoutlmv3-triton-server layoutlmv3-triton-client layoutlmv3-pytorch layoutlmv3-model-analyzer)

usage() {
    cat <<EOF
Usage: ./build.sh [OPTIONS] [SERVICE...]

Build the Docker images of the LayoutLMv3 Triton stack (default: all of them):
  ${SERVICES[*]}

Options:
  --release YY.MM   NGC release to build on (e.g. 24.10 = Triton 2.51); written to .env
                    as TRITON_RELEASE so that docker compose runs what was built
  --no-opencl       build Tesseract without OpenCL (the OpenCL build is experimental)
  --dry-run         print the commands without running them
  -h, --help        show this help

Then:
  docker compose up layoutlmv3-triton-server
  docker compose up layoutlmv3-triton-client
See docs/production.md.
EOF
}

die() {
    echo "build.sh: error: $*" >&2
    exit 1
}

say() {
    echo "build.sh: $*"
}

run() {
    echo "+ $*"
    if [[ "${dry_run}" == 0 ]]; then
        "$@"
    fi
}

release=""
opencl=1
dry_run=0
services=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --release)
            [[ $# -ge 2 ]] || die "--release needs a value such as 24.10"
            release="$2"
            shift 2
            ;;
        --release=*)
            release="${1#*=}"
            shift
            ;;
        --no-opencl)
            opencl=0
            shift
            ;;
        --dry-run)
            dry_run=1
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        -*)
            die "unknown option '$1' (see ./build.sh --help)"
            ;;
        *)
            services+=("$1")
            shift
            ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")"

for service in ${services[@]+"${services[@]}"}; do
    [[ " ${SERVICES[*]} " == *" ${service} "* ]] || die "unknown service '${service}'; choose from: ${SERVICES[*]}"
done
if [[ ${#services[@]} -eq 0 ]]; then
    services=("${SERVICES[@]}")
fi

# --- tools ------------------------------------------------------------------------------------
command -v docker > /dev/null 2>&1 \
    || die "docker is not installed or not on PATH. Install Docker Engine and the NVIDIA Container Toolkit on the GPU host (docs/production.md)."
docker compose version > /dev/null 2>&1 \
    || die "the Docker Compose plugin is missing ('docker compose version' fails). Install docker-compose-plugin (Compose v2)."

# --- release pin ------------------------------------------------------------------------------
if [[ -n "${release}" ]]; then
    [[ "${release}" =~ ^([0-9]{2})\.([0-9]{2})$ ]] || die "--release must look like 24.10, got '${release}'"
    # NGC releases are monthly and Triton's minor version follows them: 24.10 -> 2.51.
    client_version="2.$((42 + (10#${BASH_REMATCH[1]} - 24) * 12 + 10#${BASH_REMATCH[2]} - 1)).0"
    say "pinning TRITON_RELEASE=${release} and TRITON_CLIENT_VERSION=${client_version} in .env"
    if [[ "${dry_run}" == 0 ]]; then
        sed -i.bak -e "s/^TRITON_RELEASE=.*/TRITON_RELEASE=${release}/" \
            -e "s/^TRITON_CLIENT_VERSION=.*/TRITON_CLIENT_VERSION=${client_version}/" .env
        rm -f .env.bak
    fi
    export TRITON_RELEASE="${release}" TRITON_CLIENT_VERSION="${client_version}"
fi

# --- build arguments --------------------------------------------------------------------------
export TESSERACT_OPENCL="${opencl}"
# Containers that write into host folders run as the host user; root maps to uid 1000.
uid="$(id -u)"
if [[ "${uid}" == 0 ]]; then
    uid=1000
fi
export USER_UID="${uid}"

# Folders the containers write into: created here so that they belong to this user, not
# to root (Docker creates a missing bind-mount source as root).
writable=(reports/model-analyzer reports/perf-analyzer artifacts model_repository notebooks samples)
run mkdir -p "${writable[@]}"
if [[ "$(id -u)" == 0 ]]; then
    say "running as root: giving the container user (uid ${uid}) the folders it writes into"
    run chown -R "${uid}" "${writable[@]}"
fi

say "release ${TRITON_RELEASE:-$(sed -n 's/^TRITON_RELEASE=//p' .env 2> /dev/null)}, Tesseract OpenCL $([[ ${opencl} == 1 ]] && echo on || echo off), uid ${uid}"
run docker compose --profile workflow --profile profiling build "${services[@]}"
say "done. Next: docker compose up layoutlmv3-triton-server (docs/production.md)"
