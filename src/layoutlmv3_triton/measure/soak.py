"""Soak test: perf_analyzer drives the ensemble at a fixed concurrency for N minutes
while we sample, every few seconds, the server's own counters (``/metrics``: successes,
failures and request time of the ensemble) and the resident memory of tritonserver and
its python-backend stubs (from /proc).

Why the counters and not perf_analyzer's report: perf_analyzer stops at the first failed
request and prints nothing when interrupted, so it only generates load here; it is
started again if it stops early (and what it printed counts as a failure too).  The
server counts every request, whoever sent it.  Measured on tritonserver 2.51: a request
that fails inside a step is counted twice by the ensemble's failure counter (reason
OTHER), and one refused by the server's own input checks (wrong dtype/shape) not at all;
the report gives the counter as it is, so "0 failed" means 0.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import LayoutLMv3TritonError
from layoutlmv3_triton.local.procfs import process_tree, rss_bytes
from layoutlmv3_triton.measure.memory import MIB, allocator_settings, memory_summary, sample_processes, slope

_METRIC = re.compile(
    r"^(nv_inference_request_(?:success|failure)|nv_inference_request_duration_us)\{([^}]*)\}\s+(\S+)$"
)


class SoakError(LayoutLMv3TritonError):
    """The soak could not run (no perf_analyzer, no metrics, no server)."""


@dataclass
class Sample:
    t: float  # seconds since the start
    success: int  # cumulative, since the start
    failure: int
    docs_per_s: float  # over the window since the previous sample
    failed_in_window: int
    mean_latency_ms: float | None  # server side, ensemble, over the window
    rss_mib: float | None  # tritonserver + stubs
    processes: dict[str, float] = field(default_factory=dict)  # RSS MiB by process: tritonserver, <model>_0_0, ...
    anon_mib: dict[str, float] = field(default_factory=dict)  # the anonymous (heap) part of each


@dataclass
class SoakReport:
    config: dict
    samples: list[Sample] = field(default_factory=list)
    perf_runs: list[dict] = field(default_factory=list)  # one per perf_analyzer start
    summary: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "config": self.config,
            "summary": self.summary,
            "perf_runs": self.perf_runs,
            "samples": [asdict(s) for s in self.samples],
        }

    @classmethod
    def from_dict(cls, data: dict) -> SoakReport:
        """Read back a soak.json (what ``as_dict`` wrote)."""
        return cls(
            data["config"], [Sample(**s) for s in data["samples"]], data.get("perf_runs", []), data.get("summary", {})
        )


# --- reading the server -----------------------------------------------------------------
def parse_metrics(text: str, model: str = contract.ENSEMBLE) -> dict[str, float]:
    """Prometheus text -> {success, failure, duration_us} of one model, summed over labels."""
    out = {"success": 0.0, "failure": 0.0, "duration_us": 0.0}
    for line in text.splitlines():
        match = _METRIC.match(line.strip())
        if not match or f'model="{model}"' not in match.group(2):
            continue
        key = {
            "nv_inference_request_success": "success",
            "nv_inference_request_failure": "failure",
            "nv_inference_request_duration_us": "duration_us",
        }[match.group(1)]
        out[key] += float(match.group(3))
    return out


def read_metrics(metrics_url: str, timeout_s: float = 5.0) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://{metrics_url}/metrics", timeout=timeout_s) as response:
            return parse_metrics(response.read().decode(errors="replace"))
    except OSError as exc:
        raise SoakError(f"cannot read metrics from http://{metrics_url}/metrics: {exc}") from None


def server_rss(server_pid: int | None) -> int | None:
    return None if server_pid is None else rss_bytes(process_tree(server_pid))


# --- perf_analyzer ------------------------------------------------------------------------
def perf_command(url: str, input_data: Path, concurrency: int, protocol: str = "grpc") -> list[str]:
    from layoutlmv3_triton.measure.bench.perf import find_perf_analyzer

    # A stability target nobody reaches and endless trials: it runs until we interrupt it.
    return [
        str(find_perf_analyzer()),
        "-m",
        contract.ENSEMBLE,
        "-i",
        protocol,
        "-u",
        url,
        "--input-data",
        str(input_data),
        "--concurrency-range",
        f"{concurrency}:{concurrency}",
        "--measurement-interval",
        "10000",
        "--max-trials",
        "1000000",
        "--stability-percentage",
        "0.001",
    ]


class LoadGenerator:
    """perf_analyzer, started again whenever it stops before the deadline."""

    def __init__(self, command: list[str], log_file: Path):
        self.command, self.log_file = command, log_file
        self.process: subprocess.Popen | None = None
        self.runs: list[dict] = []
        self._log = None

    def ensure_running(self, elapsed: float) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None:
            self._finish(elapsed)
        from layoutlmv3_triton.measure.bench.perf import perf_analyzer_environment

        self._log = self._log or open(self.log_file, "a")
        self._log.write(f"\n--- start at {elapsed:.1f} s: {' '.join(self.command)}\n")
        self._log.flush()
        self.process = subprocess.Popen(
            self.command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=perf_analyzer_environment(),
            start_new_session=True,
        )
        self.runs.append({"start_s": round(elapsed, 1)})

    def _finish(self, elapsed: float) -> None:
        self.runs[-1].update(end_s=round(elapsed, 1), exit_code=self.process.returncode)
        self.process = None

    def stop(self, elapsed: float) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)  # lets in-flight requests finish
                try:
                    self.process.wait(60)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self._finish(elapsed)
        if self._log:
            self._log.close()
            self._log = None

    def errors(self) -> list[str]:
        text = self.log_file.read_text(errors="replace") if self.log_file.is_file() else ""
        return [line.strip() for line in text.splitlines() if "error" in line.lower()]


# --- the soak -----------------------------------------------------------------------------
def run_soak(
    url: str,
    metrics_url: str,
    input_data: Path,
    duration_s: float,
    out_dir: Path,
    *,
    concurrency: int = 16,
    sample_s: float = 10.0,
    server_pid: int | None = None,
    protocol: str = "grpc",
    progress: Callable[[Sample, float], None] | None = None,
) -> SoakReport:
    out_dir.mkdir(parents=True, exist_ok=True)
    report = SoakReport(
        {
            "url": url,
            "metrics_url": metrics_url,
            "protocol": protocol,
            "concurrency": concurrency,
            "duration_s": duration_s,
            "sample_s": sample_s,
            "server_pid": server_pid,
            "input_data": str(input_data),
            "cpu_count": os.cpu_count(),
            # Other work on the machine skews throughput: keep the context.
            "loadavg_1m_at_start": round(os.getloadavg()[0], 2),
        }
    )
    if server_pid is not None:
        report.config["allocator"] = allocator_settings(server_pid)
    base = read_metrics(metrics_url)
    load = LoadGenerator(perf_command(url, input_data, concurrency, protocol), out_dir / "perf_analyzer.log")
    start = time.monotonic()
    last_t, last = 0.0, base
    try:
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= duration_s:
                break
            if duration_s - elapsed > 2.0:
                load.ensure_running(elapsed)
            time.sleep(max(0.0, min(sample_s - (elapsed - last_t), duration_s - elapsed)))
            t = time.monotonic() - start
            now = read_metrics(metrics_url)
            processes, anon = sample_processes(server_pid) if server_pid is not None else ({}, {})
            done = now["success"] - last["success"]
            sample = Sample(
                t=round(t, 2),
                success=int(now["success"] - base["success"]),
                failure=int(now["failure"] - base["failure"]),
                docs_per_s=round(done / max(t - last_t, 1e-6), 3),
                failed_in_window=int(now["failure"] - last["failure"]),
                mean_latency_ms=round((now["duration_us"] - last["duration_us"]) / done / 1000, 1) if done else None,
                rss_mib=None if server_pid is None else round(server_rss(server_pid) / MIB, 1),
                processes=processes,
                anon_mib=anon,
            )
            report.samples.append(sample)
            if progress:
                progress(sample, duration_s)
            last_t, last = t, now
    finally:
        load.stop(time.monotonic() - start)
    final = read_metrics(metrics_url)  # requests that were in flight at the deadline
    report.perf_runs = load.runs
    report.config["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    report.summary = summarize(
        report.samples,
        final["success"] - base["success"],
        final["failure"] - base["failure"],
        time.monotonic() - start,
        load.errors(),
    )
    return report


def summarize(samples: list[Sample], success: float, failure: float, seconds: float, errors: list[str]) -> dict:
    rates = [s.docs_per_s for s in samples]
    summary = {
        "requests": int(success + failure),
        "succeeded": int(success),
        "failed": int(failure),
        "perf_analyzer_errors": errors[:20],
        "seconds": round(seconds, 1),
        "mean_docs_per_s": round(success / seconds, 3) if seconds else 0.0,
        "min_window_docs_per_s": min(rates) if rates else 0.0,
        "max_window_docs_per_s": max(rates) if rates else 0.0,
    }
    rss = [(s.t, s.rss_mib) for s in samples if s.rss_mib is not None]
    if rss:
        summary.update(rss_start_mib=rss[0][1], rss_end_mib=rss[-1][1], rss_max_mib=max(v for _, v in rss))
    memory = memory_summary(samples)  # per process: the verdict
    if memory:
        steady = [(t / 60, v) for t, v in rss if t >= memory["memory_steady_from_s"]]
        summary.update(
            rss_steady_start_mib=steady[0][1], rss_steady_growth_mib_per_min=round(slope(steady), 2), **memory
        )
    else:
        summary["rss_flat"] = None
    summary["verdict"] = "pass" if failure == 0 and not errors and summary.get("rss_flat") is not False else "fail"
    return summary
