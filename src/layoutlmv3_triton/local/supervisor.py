"""Keep a local tritonserver answering: detect a dead python-backend stub and restart.

Why this exists: when a stub process dies (OOM killer, a crash in a native library),
tritonserver 2.51 keeps reporting the server and every model as ready, while each
request routed to that instance fails at once with "Stub process '<model>_0_0' is not
healthy"; the python backend does not start the stub again.  With model control off,
the fix is to restart the server process on the same ports (clients just reconnect).

Three checks, cheapest first: the stub processes seen at start are still alive (read
from /proc), every model reports ready, and a tiny blank page goes through the
ensemble within a short timeout.  The probe also catches a stub that is alive but hung.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from layoutlmv3_triton import contract
from layoutlmv3_triton.errors import LayoutLMv3TritonError, ServerError
from layoutlmv3_triton.local.procfs import alive, children, cmdline
from layoutlmv3_triton.local.server import LocalTritonServer

log = logging.getLogger(__name__)

STUB_NAME = "triton_python_backend_stub"
# Answers that mean "busy", not "broken": the queue policy refused the probe.
BUSY_MARKERS = ("exceeds maximum queue size", "request timeout expired")


class ProbeError(LayoutLMv3TritonError):
    """The probe inference failed; ``fatal`` when the server named a dead stub."""

    def __init__(self, message: str, fatal: bool = False, busy: bool = False):
        super().__init__(message)
        self.fatal = fatal
        self.busy = busy


# --- processes ------------------------------------------------------------------------
def stub_processes(server_pid: int) -> dict[int, str]:
    """Live python-backend stubs of a tritonserver: pid -> model name."""
    return {pid: name.model for pid, name in _stubs(server_pid).items()}


@dataclass(frozen=True)
class StubName:
    model: str
    instance: str  # <model>_<instance>_<device>, as the server log names it


def _stubs(server_pid: int) -> dict[int, StubName]:
    stubs = {}
    for pid in children(server_pid):
        argv = cmdline(pid)
        if alive(pid) and argv and os.path.basename(argv[0]) == STUB_NAME:
            # argv[1] is <repository>/<model>/<version>/model.py; a later argument names the instance
            model = Path(argv[1]).parents[1].name if len(argv) > 1 else "?"
            instance = next((a for a in argv[2:] if a.startswith(f"{model}_")), model)
            stubs[pid] = StubName(model, instance)
    return stubs


def server_processes(server_pid: int) -> dict[int, str]:
    """tritonserver and each of its stubs: pid -> a name that survives a restart
    ("tritonserver", or the stub's instance name such as "layoutlmv3_preprocess_0_0")."""
    named = {server_pid: "tritonserver"} if alive(server_pid) else {}
    named.update({pid: name.instance for pid, name in _stubs(server_pid).items()})
    return named


# --- probe inference ------------------------------------------------------------------
def probe_document() -> bytes:
    """A blank 32x32 PNG: no words, so OCR is instant, yet every step runs."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (32, 32), 255).save(buf, "PNG")
    return buf.getvalue()


def probe_inference(
    http_url: str, timeout_s: float, document: bytes | None = None, model: str = contract.ENSEMBLE
) -> float:
    """One document through the ensemble over HTTP (binary tensor extension); returns seconds."""
    document = document or probe_document()
    payload = struct.pack("<I", len(document)) + document  # Triton's serialized BYTES element
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": contract.DOCUMENT.name,
                    "shape": [1, 1],
                    "datatype": contract.DOCUMENT.dtype,
                    "parameters": {"binary_data_size": len(payload)},
                }
            ],
            "outputs": [{"name": contract.RESULT.name, "parameters": {"binary_data": False}}],
        }
    ).encode()
    request = urllib.request.Request(
        f"http://{http_url}/v2/models/{model}/infer",
        data=header + payload,
        headers={"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"},
    )
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = json.loads(response.read())
        json.loads(body["outputs"][0]["data"][0])["pages"]
    except urllib.error.HTTPError as exc:
        message = exc.read().decode(errors="replace")
        lowered = message.lower()
        raise ProbeError(
            f"HTTP {exc.code}: {message}",
            fatal="is not healthy" in lowered,
            busy=any(m in lowered for m in BUSY_MARKERS),
        ) from None
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProbeError(f"{type(exc).__name__}: {exc}") from None
    return time.monotonic() - start


# --- supervisor -----------------------------------------------------------------------
@dataclass
class Check:
    healthy: bool
    reason: str = ""
    fatal: bool = False  # restart at once, without waiting for more failures


@dataclass
class Event:
    at: float  # time.time()
    kind: str  # unhealthy, restarting, restarted, restart-failed
    detail: str
    seconds: float | None = None


@dataclass
class Supervisor:
    server: LocalTritonServer
    interval_s: float = 5.0
    probe_timeout_s: float = 10.0
    failures_before_restart: int = 2  # a slow probe under load is not yet a dead server
    start_timeout_s: float = 300.0
    # A broken server drains slowly (it waits --exit-timeout-secs, 30 s, for requests the
    # dead stub will never answer): give it a few seconds, then SIGKILL.
    stop_timeout_s: float = 5.0
    max_failed_restarts: int = 3
    on_event: Callable[[Event], None] | None = None
    events: list[Event] = field(default_factory=list)
    restarts: int = 0
    stubs: dict[int, str] = field(default_factory=dict)
    _failures: int = 0
    _document: bytes = b""

    def __post_init__(self):
        self._document = probe_document()
        if self.server.process is not None:
            self.stubs = stub_processes(self.server.process.pid)

    def _emit(self, kind: str, detail: str, seconds: float | None = None) -> None:
        event = Event(time.time(), kind, detail, seconds)
        self.events.append(event)
        if self.on_event:
            self.on_event(event)
        else:  # the caller reports events itself, or they go to the log
            (log.warning if kind != "restarted" else log.info)("supervisor: %s: %s", kind, detail)

    def check(self) -> Check:
        process = self.server.process
        if process is None or process.poll() is not None:
            return Check(False, f"tritonserver exited (code {None if process is None else process.returncode})", True)
        gone = [f"{model} (pid {pid})" for pid, model in self.stubs.items() if not alive(pid)]
        if gone:
            return Check(False, f"python backend stub died: {', '.join(gone)}", True)
        for model in contract.ALL_MODELS:
            if not self.server.is_ready(model):
                return Check(False, f"model {model} is not ready")
        try:
            probe_inference(self.server.http_url, self.probe_timeout_s, self._document)
        except ProbeError as exc:
            if exc.busy:
                return Check(True, f"busy: {exc}")
            return Check(False, f"probe inference failed: {exc}", exc.fatal)
        return Check(True)

    def step(self) -> Check:
        """One round: check, and restart when the server is broken."""
        result = self.check()
        if result.healthy:
            self._failures = 0
            return result
        self._failures += 1
        self._emit("unhealthy", result.reason)
        if result.fatal or self._failures >= self.failures_before_restart:
            self.restart(result.reason)
        return result

    def restart(self, reason: str) -> None:
        """Stop the server (its stubs with it) and start it again on the same ports."""
        for attempt in range(1, self.max_failed_restarts + 1):
            self._emit("restarting", f"{reason} (attempt {attempt})")
            start = time.monotonic()
            self.server.stop(self.stop_timeout_s)
            try:
                self.server.start(self.start_timeout_s)
            except ServerError as exc:
                self._emit("restart-failed", str(exc), time.monotonic() - start)
                time.sleep(min(2.0 * attempt, 10.0))  # ports may still be in TIME_WAIT
                continue
            self.stubs = stub_processes(self.server.process.pid)
            self.restarts += 1
            self._failures = 0
            self._emit("restarted", f"ready again with {len(self.stubs)} stubs", time.monotonic() - start)
            return
        raise ServerError(f"tritonserver could not be restarted after {self.max_failed_restarts} attempts: {reason}")

    def run(self, stop: threading.Event) -> None:
        """Check every ``interval_s`` until ``stop`` is set; raises ServerError when restarts fail."""
        while not stop.wait(self.interval_s):
            self.step()
