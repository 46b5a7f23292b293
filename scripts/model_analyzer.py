#!/usr/bin/env python3
"""Run Triton Model Analyzer for real, in local launch mode on CPU, over the model step.

Model Analyzer (PyPI ``triton-model-analyzer``) starts the tritonserver binary from the
nvidia-pytriton wheel itself, once per candidate config of ``layoutlmv3_model``, and
drives it with perf_analyzer.  The sweep (kept to a few minutes on 2 cores):

* instance count 1, 2 (KIND_CPU)
* max batch size: the deployed one (the repository's config, 64 sequences), which is a bound
  rather than a knob: a lower one rejects multi-page documents at the model step
* dynamic batching queue delay 0, 4000 µs
* concurrency 4 (the model step alone; two instances of one thread fill two cores)
* request batches of 1 and 4 sequences (a one-window page; a long or multi-page document),
  every sequence padded to 512 tokens as the windows of a long page are

The python-backend model needs the stub environment the project's launcher builds
(``server.stub_environment()``: LAYOUTLMV3_TRITON_PYTHONPATH and LD_LIBRARY_PATH) and
the assembled backend folder (``server.backend_directory()``), passed through
``triton_server_environment`` and ``triton_server_flags``.  perf_analyzer gets real
model inputs (OCR + encoding of synthetic form pages) as ``--input-data``.

usage:
  python scripts/model_analyzer.py                              # artifacts/bench/base-int8 (run the bench once first)
  python scripts/model_analyzer.py --repository model_repository --output reports/model_analyzer
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from layoutlmv3_triton import contract
from layoutlmv3_triton.local.server import backend_directory, free_port, pytriton_root, stub_environment
from layoutlmv3_triton.measure.bench.perf import cuda_runtime_lib, find_perf_analyzer


def pad_to(array: np.ndarray, length: int, value: int) -> np.ndarray:
    """``array`` padded along its first axis to ``length`` rows of ``value``."""
    pad = [(0, max(0, length - array.shape[0]))] + [(0, 0)] * (array.ndim - 1)
    return np.pad(array[:length], pad, constant_values=value)


def model_inputs_json(repository: Path, pages: int, out: Path, seq_len: int = contract.MAX_SEQ_LEN) -> Path:
    """perf_analyzer --input-data with the model step's real inputs, one entry per page,
    padded to ``seq_len`` tokens (a full window of a long page)."""
    from layoutlmv3_triton.serving.encoding import PageEncoder
    from layoutlmv3_triton.serving.ocr import TesseractEngine
    from layoutlmv3_triton.synth import render_page

    encoder = PageEncoder(repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR)
    entries = []
    with TesseractEngine() as engine:
        for seed in range(pages):
            image = render_page(seed).image
            words = engine.read(image)
            page = encoder.encode(image, [w.text for w in words], [w.box for w in words])
            entry = {}
            for t in contract.MODEL_INPUTS:
                array = getattr(page, t.name).astype(t.numpy_dtype)
                if -1 in t.dims:
                    pad_value = encoder.tokenizer.pad_token_id if t is contract.INPUT_IDS else 0
                    array = pad_to(array, seq_len, pad_value)
                array = np.ascontiguousarray(array)
                entry[t.name] = {
                    "content": {"b64": base64.b64encode(array.tobytes()).decode()},
                    "shape": list(array.shape),
                }
            entries.append(entry)
    out.write_text(json.dumps({"data": entries}))
    return out


def deployed_max_batch_size(model_dir: Path) -> int:
    from layoutlmv3_triton.repository.configs import parse

    return parse((model_dir / "config.pbtxt").read_text()).max_batch_size


def write_config(args, ma_repo: Path, input_data: Path, out_dir: Path) -> Path:
    env = stub_environment()
    # Model Analyzer hands triton_server_environment to perf_analyzer too, whose
    # LD_LIBRARY_PATH must hold libcudart.so.12 (even on CPU): put it in front.
    lib = cuda_runtime_lib()
    if lib is not None:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(lib), env.get("LD_LIBRARY_PATH", "")) if p)
    keep = ("LAYOUTLMV3_TRITON_PYTHONPATH", "LD_LIBRARY_PATH", "OMP_THREAD_LIMIT", "TOKENIZERS_PARALLELISM")
    http, grpc, metrics = free_port(), free_port(), free_port()
    config = {
        "model_repository": str(ma_repo),
        "output_model_repository_path": str(out_dir / "output_repository"),
        "override_output_model_repository": True,
        "checkpoint_directory": str(out_dir / "checkpoints"),
        "export_path": str(out_dir / "export"),
        "triton_launch_mode": "local",
        "triton_server_path": str(pytriton_root() / "bin" / "tritonserver"),
        "triton_output_path": str(out_dir / "tritonserver.log"),
        "triton_server_flags": {
            "backend-directory": str(backend_directory()),
            "http-address": "127.0.0.1",
            "grpc-address": "127.0.0.1",
            "metrics-address": "127.0.0.1",
        },
        "triton_server_environment": {k: env[k] for k in keep if k in env},
        "triton_http_endpoint": f"127.0.0.1:{http}",
        "triton_grpc_endpoint": f"127.0.0.1:{grpc}",
        "triton_metrics_url": f"http://127.0.0.1:{metrics}/metrics",
        "perf_analyzer_path": str(find_perf_analyzer()),
        "perf_output": True,
        "perf_output_path": str(out_dir / "perf_analyzer.log"),
        "perf_analyzer_timeout": 300,
        "perf_analyzer_max_auto_adjusts": 1,
        "client_protocol": "grpc",
        "run_config_search_disable": True,
        "collect_cpu_metrics": True,
        "skip_detailed_reports": True,
        "gpus": [],
        "profile_models": {
            contract.MODEL: {
                "cpu_only": True,
                "model_config_parameters": {
                    "instance_group": [{"kind": "KIND_CPU", "count": args.instances}],
                    "max_batch_size": args.max_batch_sizes,
                    "dynamic_batching": {"max_queue_delay_microseconds": args.queue_delays},
                },
                "parameters": {"concurrency": args.concurrency, "batch_sizes": args.batch_sizes},
                "perf_analyzer_flags": {
                    "input-data": str(input_data),
                    "measurement-mode": "count_windows",
                    "measurement-request-count": args.requests_per_window,
                    "stability-percentage": 50,
                    "max-trials": 6,
                },
            }
        },
    }
    path = out_dir / "config.yaml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def queue_delay_us(out_dir: Path, config_name: str) -> str:
    from layoutlmv3_triton.repository.configs import parse

    path = out_dir / "output_repository" / config_name / "config.pbtxt"
    try:
        cfg = parse(path.read_text())
    except (OSError, Exception):  # noqa: BLE001 - informational column only
        return "?"
    return str(cfg.dynamic_batching.max_queue_delay_microseconds) if cfg.HasField("dynamic_batching") else "off"


def summary_sentence(out_dir: Path) -> str:
    """The opening paragraph of Model Analyzer's summary report, as text."""
    import html
    import re

    path = out_dir / "export" / "reports" / "summaries" / contract.MODEL / "result_summary.html"
    if not path.is_file():
        return ""
    text = re.sub(r"<[^>]+>", " ", path.read_text())
    text = re.sub(r"\s+", " ", html.unescape(text)).strip()
    end = text.find("Curves corresponding")
    return text[:end].strip() if end > 0 else text[:600]


def summarize(out_dir: Path) -> str:
    """Model Analyzer's results as a Markdown table (best throughput first), after its summary."""
    path = out_dir / "export" / "results" / "metrics-model-inference.csv"
    if not path.is_file():
        return f"(no {path})"
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("Model")]
    if not rows:
        return "(no results)"
    columns = [c for c in rows[0] if c and c not in ("Model", "Batch", "Satisfies Constraints")]
    header = columns[:3] + ["Queue delay (us)"] + columns[3:]
    lines = [summary_sentence(out_dir), "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    key = next((c for c in columns if c.startswith("Throughput")), columns[-1])
    for row in sorted(rows, key=lambda r: -float(r.get(key) or 0)):
        cells = [row[c] for c in columns]
        cells.insert(3, queue_delay_us(out_dir, row.get("Model Config Path", "")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repository", type=Path, default=Path("artifacts/bench/base-int8"))
    parser.add_argument("--output", type=Path, default=Path("reports/model_analyzer"))
    parser.add_argument("--pages", type=int, default=4, help="pages whose model inputs perf_analyzer sends")
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--max-batch-sizes",
        type=int,
        nargs="+",
        default=None,
        help="default: the repository's deployed max_batch_size (64 sequences)",
    )
    parser.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=[1, 4],
        help="sequences per request perf_analyzer sends (windows of long or multi-page documents)",
    )
    parser.add_argument("--seq-len", type=int, default=contract.MAX_SEQ_LEN, help="tokens per sequence")
    parser.add_argument("--queue-delays", type=int, nargs="+", default=[0, 4000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4])
    parser.add_argument("--requests-per-window", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=1500, help="give up after this many seconds")
    args = parser.parse_args(argv)

    source = args.repository / contract.MODEL
    if not (source / "config.pbtxt").is_file():
        print(f"error: no {source}/config.pbtxt; run `layoutlmv3-triton bench` or build-repo first", file=sys.stderr)
        return 2
    args.max_batch_sizes = args.max_batch_sizes or [deployed_max_batch_size(source)]
    out = args.output.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ma_repo = out / "input_repository"
    shutil.copytree(source, ma_repo / contract.MODEL)
    input_data = model_inputs_json(args.repository, args.pages, out / "model_inputs.json", args.seq_len)
    config = write_config(args, ma_repo, input_data, out)
    env = dict(os.environ)
    lib = cuda_runtime_lib()
    if lib is not None:  # perf_analyzer needs libcudart.so.12 even on CPU
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(lib), env.get("LD_LIBRARY_PATH", "")) if p)
    analyzer = shutil.which("model-analyzer") or str(Path(sys.executable).parent / "model-analyzer")
    cmd = [analyzer, "profile", "-f", str(config)]
    print("running:", " ".join(cmd), flush=True)
    start = time.perf_counter()
    with open(out / "model_analyzer.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out, start_new_session=True)
        try:
            code = proc.wait(args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 15)
            proc.wait()
            code = 124
    print(f"model-analyzer exited {code} after {time.perf_counter() - start:.0f}s; log: {out / 'model_analyzer.log'}")
    table = summarize(out)
    (out / "summary.md").write_text(table + "\n")
    # the per-config copies of the model are large; keep only their config.pbtxt
    shutil.rmtree(ma_repo, ignore_errors=True)
    for version in (out / "output_repository").glob("*/1"):
        shutil.rmtree(version, ignore_errors=True)
    print(table)
    return code


if __name__ == "__main__":
    sys.exit(main())
