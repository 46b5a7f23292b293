"""Is a model repository ready, and ready for the server it is about to be served by?

``build-repo`` records what it built in ``build_manifest.json``; the model step's config.pbtxt
shows which variant tritonserver would load.  The server image's launcher
(docker/layoutlmv3-tritonserver.sh) runs :func:`main` before tritonserver: a repository that
the image cannot serve stops the container at once, with the command that fixes it, instead
of a model that fails to load minutes later.

This module needs only the standard library: the server image has no tritonclient, so the
rest of :mod:`layoutlmv3_triton.repository` does not import there.

  python3 -m layoutlmv3_triton.repository.manifest --model-repository=/models [tritonserver args ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from layoutlmv3_triton import contract

MANIFEST = "build_manifest.json"
# The launcher's exit status when the repository cannot be served (sysexits.h: EX_CONFIG).
EXIT_UNSERVABLE = 78
# Variants the NGC server image cannot serve, and why.
NOT_IN_SERVER_IMAGE = {
    "local": "its model step runs ONNX Runtime inside the python backend, and the server image has no "
    "onnxruntime Python package (the onnxruntime backend serves the model there)",
}
FIX = (
    "run `layoutlmv3-triton build-repo --variant onnxruntime-gpu` (or onnxruntime-trt, tensorrt-plan, "
    "onnxruntime-cpu) into it first (docs/production.md)"
)
_PYTHON_BACKEND = re.compile(r'^backend:\s*"python"', re.M)
_TENSORRT_PLAN = re.compile(r'^platform:\s*"tensorrt_plan"', re.M)
# The preprocess parameter ocr_engine (serving/ocr.py's OcrConfig.engine) set to ppocr.
_READS_WITH_PPOCR = re.compile(r'key:\s*"ocr_engine"\s*value\s*\{\s*string_value:\s*"ppocr"')


def check_repository(repository: str | Path) -> list[str]:
    """Problems that would stop the ensemble from loading (empty list: ready to serve)."""
    repository = Path(repository)
    problems = []
    for name in contract.ALL_MODELS:
        if not (repository / name / "config.pbtxt").is_file():
            problems.append(f"{name}/config.pbtxt is missing")
    if not (repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR / "tokenizer_config.json").is_file():
        problems.append(f"{contract.PREPROCESS}/1/{contract.PROCESSOR_DIR} is missing")
    if not (repository / contract.POSTPROCESS / "1" / contract.MODEL_CONFIG_FILE).is_file():
        problems.append(f"{contract.POSTPROCESS}/1/{contract.MODEL_CONFIG_FILE} is missing")
    version = repository / contract.MODEL / "1"
    if not any((version / f).is_file() for f in (contract.ONNX_FILE, contract.PLAN_FILE)):
        problems.append(f"{contract.MODEL}/1 has neither {contract.ONNX_FILE} nor {contract.PLAN_FILE}")
    if reads_with_ppocr(repository):
        for path in [f"{name}/1/{contract.ONNX_FILE}" for name in contract.OCR_MODELS] + [
            f"{contract.PREPROCESS}/1/{contract.OCR_CHARSET_FILE}"
        ]:
            if not (repository / path).is_file():
                problems.append(f"{path} is missing (the preprocess step reads with ocr_engine=ppocr)")
    return problems


def reads_with_ppocr(repository: str | Path) -> bool:
    """Whether the repository's preprocess step reads pages with the ppocr engine."""
    config = Path(repository) / contract.PREPROCESS / "config.pbtxt"
    return config.is_file() and _READS_WITH_PPOCR.search(config.read_text()) is not None


def read_manifest(repository: str | Path) -> dict | None:
    try:
        return json.loads((Path(repository) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def served_variant(repository: Path) -> str | None:
    """The model step's variant as its config.pbtxt shows it (what tritonserver would load,
    whatever a stale manifest says): ``local``, ``tensorrt-plan``, or the manifest's variant."""
    config = repository / contract.MODEL / "config.pbtxt"
    text = config.read_text() if config.is_file() else ""
    if _PYTHON_BACKEND.search(text):
        return "local"
    if _TENSORRT_PLAN.search(text):
        return "tensorrt-plan"
    manifest = read_manifest(repository)
    return manifest.get("variant") if manifest else None


def server_image_problems(repository: str | Path) -> list[str]:
    """Why the server image cannot serve ``repository`` (empty: it can, or it is not ours).

    A repository without this project's model step (another repository, an empty one) is left
    to tritonserver; one with it must hold a variant the image serves, every file in place.
    The manifest is not required: a copy synced to a volume or a bucket may leave it behind.
    """
    repository = Path(repository)
    if not (repository / contract.MODEL).is_dir():
        return []
    variant = served_variant(repository)
    if variant in NOT_IN_SERVER_IMAGE:
        return [
            f"{repository} holds the `{variant}` variant (the one committed for the local CPU server): "
            f"{NOT_IN_SERVER_IMAGE[variant]}"
        ]
    problems = check_repository(repository)
    if variant == "tensorrt-plan" and not (repository / contract.MODEL / "1" / contract.PLAN_FILE).is_file():
        problems.append(f"{contract.MODEL}/1/{contract.PLAN_FILE} is missing: run `layoutlmv3-triton build-trt`")
    return [f"{repository}: {p}" for p in problems]


def local_repositories(args: list[str]) -> list[Path]:
    """The ``--model-repository`` (or ``--model-store``) folders of tritonserver's arguments;
    cloud locations (s3://, gs://, as://) cannot be looked into and are left out."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--model-repository", "--model-store", action="append", default=[])
    known, _ = parser.parse_known_args(args)
    return [Path(p) for p in known.model_repository if "://" not in p]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    problems = [p for repository in local_repositories(args) for p in server_image_problems(repository)]
    if not problems:
        return 0
    for problem in problems:
        print(f"layoutlmv3-tritonserver: {problem}", file=sys.stderr)
    print(f"layoutlmv3-tritonserver: the server image cannot serve this repository: {FIX}", file=sys.stderr)
    return EXIT_UNSERVABLE


if __name__ == "__main__":
    sys.exit(main())
