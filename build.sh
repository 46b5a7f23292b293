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
  --release YY.MM   NGC release to build on (e.g. 26.11 = Triton 2.75); written to .env
                    as TRITON_RELEASE so that docker compose runs what was built.  Every
                    image (server, workflow, client, Model Analyzer) follows it
  --opencl          build Tesseract 5.3.4 with OpenCL (the last release that has it; the
                    build fails if the binary lacks OpenCL).  Experimental, often slower
  --no-opencl       build current Tesseract without OpenCL (the default, TESSERACT_OPENCL=0)
  --dry-run         print the commands without running them
  -h, --help        show this help

Then:
  docker compose run --rm layoutlmv3-pytorch layoutlmv3-triton build-repo --tiny --variant onnxruntime-gpu
  docker compose up layoutlmv3-triton-server
  docker compose up layoutlmv3-triton-client
See docs/production.md.  The server starts only on a repository built for it (build-repo).
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
opencl="${TESSERACT_OPENCL:-$(sed -n 's/^TESSERACT_OPENCL=//p' "$(dirname "${BASH_SOURCE[0]}")/.env" 2> /dev/null)}"
opencl="${opencl:-0}"
dry_run=0
services=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --release)
            [[ $# -ge 2 ]] || die "--release needs a value such as 26.11"
            release="$2"
            shift 2
            ;;
        --release=*)
            release="${1#*=}"
            shift
            ;;
        --opencl)
            opencl=1
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
[[ "${opencl}" =~ ^[01]$ ]] || die "TESSERACT_OPENCL must be 0 or 1, got '${opencl}'"

# --- tools ------------------------------------------------------------------------------------
command -v docker > /dev/null 2>&1 \
    || die "docker is not installed or not on PATH. Install Docker Engine and the NVIDIA Container Toolkit on the GPU host (docs/production.md)."
docker compose version > /dev/null 2>&1 \
    || die "the Docker Compose plugin is missing ('docker compose version' fails). Install docker-compose-plugin (Compose v2)."

# --- release pin ------------------------------------------------------------------------------
if [[ -n "${release}" ]]; then
    [[ "${release}" =~ ^[0-9]{2}\.[0-9]{2}$ ]] || die "--release must look like 26.11, got '${release}'"
    say "pinning TRITON_RELEASE=${release} in .env"
    if [[ "${dry_run}" == 0 ]]; then
        sed -i.bak -e "s/^TRITON_RELEASE=.*/TRITON_RELEASE=${release}/" .env
        rm -f .env.bak
    fi
    export TRITON_RELEASE="${release}"
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
run docker compose --profile workflow --profile profiling --profile client build "${services[@]}"
say "done. Next: build-repo into ./model_repository, then docker compose up layoutlmv3-triton-server (docs/production.md)"
