"""``layoutlmv3-client infer --jsonl --resume`` against a real tritonserver: a batch run
survives a kill of the client and a restart of the server, and in the end every document
has exactly one record, none of them sent twice once recorded (the server's own counters
say how many documents each run sent)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import serve
from pages import png_bytes, render_lines
from server_state import metric, wait_for

from layoutlmv3_triton import contract

N_DOCS = 8


@pytest.fixture(scope="module")
def server(tiny_repository, tmp_path_factory):
    """A server of its own: one test restarts it."""
    yield from serve(tiny_repository, tmp_path_factory, "resume-triton-log")


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    for i in range(N_DOCS):
        image, _ = render_lines([f"Invoice {i}", f"Total: {100 + i}.00", "Signed: J. Doe"])
        (folder / f"page-{i}.png").write_bytes(png_bytes(image))
    return folder


def served(server) -> float:
    """Documents the ensemble has answered with a result, by the server's own count.  (Failures
    are no measure: Triton 2.51 counts a request whose client was killed as two of them.)"""
    return metric(server, "nv_inference_request_success", model=contract.ENSEMBLE)


def client(*args: str) -> list[str]:
    return [sys.executable, "-m", "layoutlmv3_client", "infer", *args]


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def check_complete(out: Path, scans: Path) -> list[dict]:
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    names = sorted(Path(r["file"]).name for r in records)
    assert names == sorted(p.name for p in scans.iterdir()), names  # each document once
    assert all("result" in r and "error" not in r for r in records), [r.get("error") for r in records]
    return records


def resume(server, scans: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        client(str(scans), "--url", server.grpc_url, "--jsonl", str(out), "--resume"),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_resume_after_the_client_is_killed(server, scans, tmp_path):
    out = tmp_path / "results.jsonl"
    run = subprocess.Popen(
        client(str(scans), "--url", server.grpc_url, "--jsonl", str(out)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: line_count(out) >= 2 or run.poll() is not None, "two records in the JSON Lines file", 300)
    finally:
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=60)
    kept = line_count(out)
    assert 2 <= kept < N_DOCS, "the client finished before it could be killed"
    with open(out, "ab") as f:  # what a kill in the middle of a write would leave
        f.write(b'{"file": "' + str(scans / "page-7.png").encode() + b'", "result": {"pag')

    before = served(server)
    proc = resume(server, scans, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{kept} document(s) done, {N_DOCS - kept} to send" in proc.stderr
    assert f"unreadable line(s) {kept + 1} dropped" in proc.stderr
    check_complete(out, scans)
    # Only the missing documents were sent.  (The server may count the killed client's last
    # request a moment after it answered it: hence the +1.)
    assert served(server) - before in (N_DOCS - kept, N_DOCS - kept + 1)


def test_resume_after_the_server_restarts(server, scans, tmp_path):
    out = tmp_path / "results.jsonl"
    run = subprocess.Popen(
        client(str(scans), "--url", server.grpc_url, "--jsonl", str(out), "--retries", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: line_count(out) >= 2 or run.poll() is not None, "two records in the JSON Lines file", 300)
        server.stop()
        _, stderr = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
        if server.process is None:
            server.start()
    assert run.returncode == 2, stderr[-3000:]  # the server went away: stopped, not a file-by-file failure
    assert "stopped with" in stderr and "rerun with --resume" in stderr, stderr[-3000:]
    recorded = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recorded) < N_DOCS
    assert {r["error"]["stage"] for r in recorded if "error" in r} <= {"connect", "overload", "timeout", "ready"}
    settled = sum("result" in r for r in recorded)

    before = served(server)
    proc = resume(server, scans, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_complete(out, scans)
    assert served(server) - before == N_DOCS - settled
