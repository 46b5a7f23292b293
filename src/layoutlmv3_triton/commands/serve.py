"""Run a local tritonserver (from the nvidia-pytriton wheel) on a model repository, on
CPU and loopback, wait until the ensemble is ready, and shut down cleanly on Ctrl-C or
SIGTERM.  Model control stays off: no remote load or unload; the repository, logging,
shared-memory and trace APIs need a per-start admin key that is never written down.

A supervisor watches the server (stub processes, model readiness, a probe inference
every --probe-interval seconds) and restarts it on the same ports when a python-backend
stub dies, which tritonserver itself does not notice (see SECURITY.md and supervisor.py).

examples:
  layoutlmv3-triton serve --repository model_repository
  layoutlmv3-triton serve --repository model_repository --http-port 8000 --grpc-port 8001 --metrics-port 8002
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--repository", type=Path, default=Path("model_repository"), help="model repository (default: %(default)s)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s: loopback only)")
    p.add_argument("--http-port", type=int, default=8000)
    p.add_argument("--grpc-port", type=int, default=8001)
    p.add_argument("--metrics-port", type=int, default=8002)
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the ensemble to be ready")
    p.add_argument("--log-file", type=Path, default=None, help="write the server log here (default: this terminal)")
    p.add_argument("--log-verbose", type=int, default=0)
    p.add_argument(
        "--no-supervise",
        dest="supervise",
        action="store_false",
        help="do not watch the server and restart it when a backend stub dies",
    )
    p.add_argument("--probe-interval", type=float, default=5.0, help="seconds between health probes")
    p.add_argument("--probe-timeout", type=float, default=10.0, help="seconds a probe inference may take")


def run(args: argparse.Namespace) -> int:
    from layoutlmv3_triton.errors import ServerError
    from layoutlmv3_triton.local.server import LOOPBACK_HOSTS, LocalTritonServer
    from layoutlmv3_triton.repository.writer import check_repository

    problems = check_repository(args.repository)
    if problems:
        print(
            f"error: {args.repository} is not ready to serve:\n  "
            + "\n  ".join(problems)
            + "\nbuild it with: layoutlmv3-triton build-repo --model DIR (or --tiny)",
            file=sys.stderr,
        )
        return 2
    if args.host not in LOOPBACK_HOSTS:
        print(
            f"warning: binding {args.host}: the server is reachable from other machines, with no authentication "
            "(see SECURITY.md)",
            file=sys.stderr,
        )
    server = LocalTritonServer(
        args.repository,
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        metrics_port=args.metrics_port,
        log_verbose=args.log_verbose,
        log_file=args.log_file,
        quiet=False,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server.start(args.timeout)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"ready: HTTP {server.http_url}  gRPC {server.grpc_url}  metrics http://{args.host}:{args.metrics_port}/metrics",
        flush=True,
    )
    try:
        if args.supervise:
            from layoutlmv3_triton.local.supervisor import Supervisor

            supervisor = Supervisor(
                server,
                interval_s=args.probe_interval,
                probe_timeout_s=args.probe_timeout,
                start_timeout_s=args.timeout,
                on_event=lambda e: print(
                    f"supervisor: {e.kind}: {e.detail}" + (f" ({e.seconds:.1f} s)" if e.seconds else ""),
                    file=sys.stderr,
                    flush=True,
                ),
            )
            try:
                supervisor.run(stop)
            except ServerError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            return 0
        while not stop.wait(1.0):
            if server.process is None or server.process.poll() is not None:
                print("error: tritonserver exited", file=sys.stderr)
                return 1
    finally:
        code = server.stop()
        print(f"tritonserver stopped (exit code {code})", flush=True)
    return 0
