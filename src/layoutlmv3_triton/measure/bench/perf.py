"""(c) Drive the served ensemble with the real perf_analyzer and read its results.

perf_analyzer ships as ``bin/perf_analyzer`` in the tritonclient 2.51 wheel.  It needs
``libcudart.so.12`` (PyPI ``nvidia-cuda-runtime-cu12``, whose ``lib/`` goes on
``LD_LIBRARY_PATH``) and Debian's ``libb64-0d``, even on a machine without a GPU.

Each concurrency level is one perf_analyzer run with a fixed ``--request-count`` (a
whole number of passes over the pages, so every page weighs the same), which bounds
the run time.  Throughput and the p50/p95/p99 client latencies are perf_analyzer's own
(its ``-f`` CSV, over every request of the run); the per-step queue and compute times
come from its summary of the ensemble's composing models.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import LayoutLMv3TritonError
from layoutlmv3_triton.measure.bench.metrics import LatencySummary


class PerfAnalyzerError(LayoutLMv3TritonError, RuntimeError):
    pass


def find_perf_analyzer() -> Path:
    candidates = [Path(sys.executable).parent / "perf_analyzer"]
    found = shutil.which("perf_analyzer")
    if found:
        candidates.append(Path(found))
    spec = importlib.util.find_spec("tritonclient")
    if spec and spec.submodule_search_locations:
        candidates += [Path(p) / "bin" / "perf_analyzer" for p in spec.submodule_search_locations]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise PerfAnalyzerError(
        "perf_analyzer not found: it ships in the tritonclient==2.51.0 wheel "
        "(pip install 'tritonclient[all]==2.51.0')"
    )


def cuda_runtime_lib() -> Path | None:
    spec = importlib.util.find_spec("nvidia.cuda_runtime")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / "lib" / "libcudart.so.12").is_file():
                return Path(location) / "lib"
    return None


def perf_analyzer_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    lib = cuda_runtime_lib()
    if lib is not None:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(lib), env.get("LD_LIBRARY_PATH", "")) if p)
    return env


@dataclass
class PerfPoint:
    concurrency: int
    docs_per_s: float  # perf_analyzer's Inferences/Second
    latency: LatencySummary  # seconds, client side, over every request of the run
    requests: int
    csv_row: dict = field(default_factory=dict)
    server: dict = field(default_factory=dict)  # per composing model: queue / compute microseconds
    server_cpu_s: float | None = None  # CPU-seconds tritonserver + stubs used during the run
    client_cpu_s: float | None = None  # CPU-seconds perf_analyzer used

    def as_dict(self) -> dict:
        def per_doc(v):
            return None if v is None or not self.requests else v / self.requests

        return {
            "concurrency": self.concurrency,
            "docs_per_s": self.docs_per_s,
            **self.latency.as_ms(),
            "requests": self.requests,
            "server_cpu_s_per_doc": per_doc(self.server_cpu_s),
            "client_cpu_s_per_doc": per_doc(self.client_cpu_s),
            "server_us": self.server,
            "perf_analyzer_csv": self.csv_row,
        }


def command(
    url: str,
    input_data: Path,
    concurrency: int,
    request_count: int,
    csv_file: Path,
    protocol: str = "grpc",
    model: str = contract.ENSEMBLE,
) -> list[str]:
    return [
        str(find_perf_analyzer()),
        "-m",
        model,
        "-i",
        protocol,
        "-u",
        url,
        "--input-data",
        str(input_data),
        "--concurrency-range",
        f"{concurrency}:{concurrency}",
        "--request-count",
        str(request_count),
        "-f",
        str(csv_file),
        "--verbose-csv",
    ]


def run_point(
    url: str,
    input_data: Path,
    concurrency: int,
    request_count: int,
    out_dir: Path,
    timeout_s: float = 900.0,
    tag: str = "",
    server_pgid: int | None = None,
) -> PerfPoint:
    """One perf_analyzer run at one concurrency; its stdout goes to ``out_dir``.
    ``server_pgid``: the server's process group, whose CPU time is measured over the run."""
    from layoutlmv3_triton.measure.bench.cpu import children_cpu_seconds, group_cpu_seconds

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{tag}c{concurrency}"
    csv_file, log_file = out_dir / f"{stem}.csv", out_dir / f"{stem}.log"
    cmd = command(url, input_data, concurrency, request_count, csv_file)
    with open(log_file, "w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        server_cpu0 = group_cpu_seconds(server_pgid) if server_pgid else None
        client_cpu0 = children_cpu_seconds()
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=perf_analyzer_environment(), start_new_session=True
        )
        try:
            code = proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise PerfAnalyzerError(
                f"perf_analyzer ran past {timeout_s:.0f}s at concurrency {concurrency}; see {log_file}"
            ) from None
    client_cpu = children_cpu_seconds() - client_cpu0
    server_cpu = None
    if server_cpu0 is not None:
        after = group_cpu_seconds(server_pgid)
        server_cpu = None if after is None else after - server_cpu0
    text = log_file.read_text(errors="replace")
    if code != 0:
        raise PerfAnalyzerError(
            f"perf_analyzer failed (exit {code}) at concurrency {concurrency}:\n" + "\n".join(text.splitlines()[-15:])
        )
    row = read_csv(csv_file)
    return PerfPoint(
        concurrency,
        float(row["Inferences/Second"]),
        latency_from_csv(row, request_count),
        request_count,
        row,
        parse_server_breakdown(text),
        server_cpu,
        client_cpu,
    )


def read_csv(path: Path) -> dict:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise PerfAnalyzerError(f"{path} has no measurement row")
    return {k: v for k, v in rows[0].items() if k}


def latency_from_csv(row: dict, count: int = 0) -> LatencySummary:
    """perf_analyzer's client latencies (microseconds in the CSV) as seconds."""
    try:
        us = {key: float(row[f"{key} latency"]) for key in ("p50", "p95", "p99", "Avg")}
    except (KeyError, ValueError) as exc:
        raise PerfAnalyzerError(f"perf_analyzer CSV lacks latency columns: {sorted(row)}") from exc
    return LatencySummary(us["p50"] / 1e6, us["p95"] / 1e6, us["p99"] / 1e6, us["Avg"] / 1e6, count)


def parse_server_breakdown(text: str) -> dict[str, dict[str, float]]:
    """Per composing model: average queue and compute times (usec) and batch counts, from
    perf_analyzer's summary (``Avg request latency: ... (overhead A usec + queue B usec + ...)``)."""
    out: dict[str, dict[str, float]] = {}
    current = None
    steps = (contract.PREPROCESS, contract.MODEL, contract.POSTPROCESS)
    for line in text.splitlines():
        stripped = line.strip()
        name = stripped.split(",")[0]
        if name in steps and "version" in stripped:
            current = name
            out[current] = {}
            continue
        if current is None:
            continue
        key, _, value = stripped.partition(":")
        key = key.strip().lower().replace(" ", "_")
        if key in ("inference_count", "execution_count"):
            out[current][key] = float(value.split()[0])
        elif key == "avg_request_latency":
            out[current]["latency"] = float(value.split()[0])
            inner = value[value.find("(") + 1 : value.rfind(")")]
            for part in inner.split("+"):
                words = part.split()
                if len(words) >= 3 and words[-1] == "usec":
                    out[current]["_".join(words[:-2])] = float(words[-2])
    return out
