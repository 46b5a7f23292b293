"""`layoutlmv3-triton serve` as a user runs it: ready line, loopback only, clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from layoutlmv3_triton.local.server import free_port


def tritonserver_pids(repository: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "tritonserver" in cmdline and str(repository.resolve()) in cmdline:
                pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_until_signal(tiny_repository, sig):
    ports = [str(free_port()) for _ in range(3)]
    others = set(tritonserver_pids(tiny_repository))  # e.g. the session's shared server
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "layoutlmv3_triton.cli",
            "serve",
            "--repository",
            str(tiny_repository),
            "--http-port",
            ports[0],
            "--grpc-port",
            ports[1],
            "--metrics-port",
            ports[2],
            "--log-file",
            os.devnull,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("ready:"), line + proc.stderr.read()
        assert f"127.0.0.1:{ports[0]}" in line and f"127.0.0.1:{ports[1]}" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/v2/health/ready", timeout=5) as r:
            assert r.status == 200
        assert set(tritonserver_pids(tiny_repository)) - others
        proc.send_signal(sig)
        assert proc.wait(60) == 0
        assert "tritonserver stopped" in proc.stdout.read()
        deadline = time.monotonic() + 10
        while set(tritonserver_pids(tiny_repository)) - others and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not set(tritonserver_pids(tiny_repository)) - others, "tritonserver outlived `serve`"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_refuses_an_unbuilt_repository(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "layoutlmv3_triton.cli", "serve", "--repository", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "config.pbtxt is missing" in proc.stderr and "build-repo" in proc.stderr


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="only meaningful when running from a virtualenv")
def test_project_is_importable_only_through_the_launcher(triton_server):
    """The stub's own interpreter cannot see this package: serving works because the
    launcher hands the virtualenv's paths to the stub."""
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    probe = subprocess.run([str(base_python), "-I", "-c", "import layoutlmv3_triton"], capture_output=True, timeout=60)
    assert probe.returncode != 0
    assert triton_server.is_ready()
