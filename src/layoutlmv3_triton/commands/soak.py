"""Drive the served ensemble with perf_analyzer at a fixed concurrency (16) for N minutes,
on loopback, and report failed requests (goal: 0), throughput over time and the
memory of tritonserver and each python-backend stub (goal: flat, that is every process
grows by less than 1 MiB/min over the last 20 minutes, or the last two thirds of a
shorter run; docs/memory.md).  Writes soak.json, soak.md and soak.png to --output.

Without --url it starts its own local server on --repository (and stops it after).

examples:
  layoutlmv3-triton soak --minutes 5 --repository model_repository --output reports/soak
  layoutlmv3-triton soak --minutes 1 --url 127.0.0.1:8001 --metrics-url 127.0.0.1:8002 --server-pid 1234
  layoutlmv3-triton soak --compare glibc=before/soak.json jemalloc=after/soak.json --output docs/images
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=5.0, help="how long to drive the server (default: %(default)s)")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight (default: %(default)s)")
    p.add_argument(
        "--repository",
        type=Path,
        default=Path("model_repository"),
        help="model repository for the local server (default: %(default)s)",
    )
    p.add_argument("--url", help="gRPC host:port of a running server instead of starting one")
    p.add_argument("--metrics-url", help="host:port of that server's metrics (default: its host, port 8002)")
    p.add_argument("--server-pid", type=int, help="pid of that server's tritonserver, to follow its memory")
    p.add_argument(
        "--documents",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="page images (or folders) to send (default: 4 synthetic form pages)",
    )
    p.add_argument("--sample-seconds", type=float, default=10.0, help="sampling period (default: %(default)s)")
    p.add_argument("--output", type=Path, default=Path("reports/soak"), help="report folder (default: %(default)s)")
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="LABEL=SOAK_JSON",
        help="run nothing: plot the memory of earlier runs side by side into --output/soak-compare.png",
    )


def _documents(args: argparse.Namespace, work: Path) -> list[Path]:
    if args.documents:
        from layoutlmv3_triton.measure.perf_data import expand

        return expand(args.documents)
    from layoutlmv3_triton.measure.bench.pages import render_pages

    return [page.path for page in render_pages(4, work / "pages")]


class Progress:
    """One status line, rewritten in place on a terminal; a line every 30 s otherwise."""

    def __init__(self, stream=None):
        stream = stream or sys.stderr  # looked up now: sys.stderr may have been swapped since import
        self.stream, self.tty, self.last = stream, stream.isatty(), -1e9

    def __call__(self, sample, duration_s: float) -> None:
        clock = f"{int(sample.t) // 60}:{int(sample.t) % 60:02d}/{int(duration_s) // 60}:{int(duration_s) % 60:02d}"
        rss = "n/a" if sample.rss_mib is None else f"{sample.rss_mib:.0f} MiB"
        line = (
            f"[{clock}] {sample.docs_per_s:6.2f} docs/s  ok {sample.success}  failed {sample.failure}  "
            f"server RSS {rss}"
        )
        if self.tty:
            self.stream.write("\r" + line.ljust(79))
        elif sample.t - self.last >= 30:
            self.stream.write(line + "\n")
            self.last = sample.t
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")


def run(args: argparse.Namespace) -> int:
    from layoutlmv3_triton.errors import LayoutLMv3TritonError
    from layoutlmv3_triton.measure.perf_data import write_input_data
    from layoutlmv3_triton.measure.soak import run_soak
    from layoutlmv3_triton.measure.soak_report import write_outputs

    if args.compare:
        return _compare(args.compare, args.output)
    if args.minutes <= 0 or args.concurrency < 1:
        print("error: --minutes must be > 0 and --concurrency >= 1", file=sys.stderr)
        return 2
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            input_data = write_input_data(_documents(args, Path(tmp)), Path(tmp) / "input_data.json")
            url, metrics_url, pid = args.url, args.metrics_url, args.server_pid
            if url is None:
                server = _start_server(args.repository, args.output)
                url, metrics_url, pid = server.grpc_url, f"{server.host}:{server.metrics_port}", server.process.pid
            metrics_url = metrics_url or f"{url.rsplit(':', 1)[0]}:8002"
            progress = Progress()
            report = run_soak(
                url,
                metrics_url,
                input_data,
                args.minutes * 60,
                args.output,
                concurrency=args.concurrency,
                sample_s=args.sample_seconds,
                server_pid=pid,
                progress=progress,
            )
            progress.done()
    except (LayoutLMv3TritonError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
    paths = write_outputs(report, args.output)
    s = report.summary
    print(
        f"{s['verdict']}: {s['succeeded']} ok, {s['failed']} failed, {s['mean_docs_per_s']} docs/s; server RSS "
        f"{s.get('rss_start_mib', 'n/a')} -> {s.get('rss_end_mib', 'n/a')} MiB "
        f"({s.get('rss_steady_growth_mib_per_min', 'n/a')} MiB/min after warm-up)"
    )
    for name, g in s.get("processes", {}).items():
        print(
            f"  {name:28s} {g['end_mib']:8.1f} MiB  {g['mib_per_min']:+6.2f} MiB/min  "
            f"{g['mib_per_1000_requests'] if g['mib_per_1000_requests'] is not None else 'n/a'} MiB/1000 requests"
        )
    print(f"wrote {paths['json']}, {paths['markdown']}, {paths['plot']}")
    return 0 if s["verdict"] == "pass" else 1


def _start_server(repository: Path, out_dir: Path):
    from layoutlmv3_triton.errors import ServerError
    from layoutlmv3_triton.local.server import LocalTritonServer
    from layoutlmv3_triton.repository.writer import check_repository

    problems = check_repository(repository)
    if problems:
        raise ServerError(f"{repository} is not ready to serve: {'; '.join(problems)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"starting a local tritonserver on {repository} ...", file=sys.stderr, flush=True)
    return LocalTritonServer(repository, log_file=out_dir / "tritonserver.log").start(300)


def _compare(specs: list[str], out_dir: Path) -> int:
    import json

    from layoutlmv3_triton.measure.soak import SoakReport
    from layoutlmv3_triton.measure.soak_report import plot_comparison

    reports = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or not Path(path).is_file():
            print(f"error: --compare takes LABEL=path/to/soak.json, got {spec!r}", file=sys.stderr)
            return 2
        reports[label] = SoakReport.from_dict(json.loads(Path(path).read_text()))
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_comparison(reports, out_dir / "soak-compare.png")
    print(f"wrote {out_dir / 'soak-compare.png'}")
    return 0
