"""Build (or reuse) the benchmark's model and repositories.

``<work>/<preset>-model``   random LayoutLMv3 of the preset (from_pretrained folder)
``<work>/<preset>-fp32``    the repository build-repo writes (fp32 ONNX, parity-checked)
``<work>/<preset>-int8``    the same with the model step dynamically quantized

Building runs in a child process (``python -m layoutlmv3_triton.measure.bench.prepare``): the
exporter is chatty and holds gigabytes that the measurements should not share.
A repository whose manifest names the same source model is reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.repository.writer import MANIFEST, check_repository


@dataclass(frozen=True)
class BenchArtifacts:
    model_dir: Path
    fp32_repository: Path
    served_repository: Path  # fp32_repository unless quantized
    quantize: str | None

    @property
    def fp32_onnx(self) -> Path:
        return self.fp32_repository / contract.MODEL / "1" / contract.ONNX_FILE


def artifact_paths(work_dir: Path, preset: str, quantize: str | None) -> BenchArtifacts:
    work_dir = Path(work_dir)
    fp32 = work_dir / f"{preset}-fp32"
    served = work_dir / f"{preset}-{quantize}" if quantize else fp32
    return BenchArtifacts(work_dir / f"{preset}-model", fp32, served, quantize)


def _manifest(repository: Path) -> dict | None:
    try:
        return json.loads((repository / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def is_built(repository: Path, model_dir: Path, quantize: str | None) -> bool:
    manifest = _manifest(repository)
    return (
        manifest is not None
        and not check_repository(repository)
        and manifest.get("source_model") == str(Path(model_dir).resolve())
        and manifest.get("quantize") == quantize
    )


def ensure_built(
    work_dir: Path, preset: str, quantize: str | None, log_file: Path, rebuild: bool = False
) -> BenchArtifacts:
    """Build what is missing in a child process; its output goes to ``log_file``."""
    paths = artifact_paths(work_dir, preset, quantize)
    ready = (paths.model_dir / "config.json").is_file() and is_built(paths.fp32_repository, paths.model_dir, None)
    if quantize:
        ready = ready and is_built(paths.served_repository, paths.model_dir, quantize)
    if ready and not rebuild:
        return paths
    log_file.parent.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "layoutlmv3_triton.measure.bench.prepare",
        "--work-dir",
        str(work_dir),
        "--preset",
        preset,
    ]
    if quantize:
        command += ["--quantize", quantize]
    if rebuild:
        command.append("--rebuild")
    with open(log_file, "ab") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
        raise RuntimeError(f"building the {preset} model failed (exit {done.returncode}); {log_file}:\n{tail}")
    return paths


def build(work_dir: Path, preset: str, quantize: str | None, rebuild: bool = False) -> BenchArtifacts:
    """In this process: random model, fp32 repository, quantized copy."""
    from layoutlmv3_triton.repository.writer import build_repository, quantize_model_step
    from layoutlmv3_triton.training.scratch import random_model

    paths = artifact_paths(work_dir, preset, quantize)
    if rebuild or not (paths.model_dir / "config.json").is_file():
        if paths.model_dir.exists():
            shutil.rmtree(paths.model_dir)
        random_model(preset, paths.model_dir)
        print(f"built a random {preset} LayoutLMv3 in {paths.model_dir}", flush=True)
    if rebuild or not is_built(paths.fp32_repository, paths.model_dir, None):
        if paths.fp32_repository.exists():
            shutil.rmtree(paths.fp32_repository)
        result = build_repository(paths.model_dir, paths.fp32_repository)
        print(f"built {paths.fp32_repository}: {result.parity}", flush=True)
    if quantize and (rebuild or not is_built(paths.served_repository, paths.model_dir, quantize)):
        target = paths.served_repository
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(paths.fp32_repository, target)
        vocab_size = json.loads((paths.model_dir / "config.json").read_text())["vocab_size"]
        report = quantize_model_step(target, quantize, vocab_size)
        manifest = _manifest(paths.fp32_repository) or {}
        manifest.update(
            repository=str(target), quantize=quantize, quantization=str(report), quantization_report=report.as_dict()
        )
        (target / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        print(f"built {target}: {report}", flush=True)
    return paths


def quantization_report(repository: Path) -> dict | None:
    manifest = _manifest(repository)
    return None if manifest is None else manifest.get("quantization_report")


def main(argv: list[str] | None = None) -> int:
    import logging

    parser = argparse.ArgumentParser(prog="python -m layoutlmv3_triton.measure.bench.prepare")
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--preset", default="base")
    parser.add_argument("--quantize", default=None)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(args.work_dir, args.preset, args.quantize, args.rebuild)
    return 0


if __name__ == "__main__":
    sys.exit(main())
