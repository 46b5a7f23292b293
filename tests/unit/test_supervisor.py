"""The supervisor's /proc reading and restart decisions, with stand-in processes and a
fake server (the real kill-and-recover test is tests/functional/test_faults.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from layoutlmv3_triton.local.procfs import alive, children, group_cpu_seconds, memory_status, process_tree, rss_bytes
from layoutlmv3_triton.local.supervisor import STUB_NAME, Supervisor, server_processes, stub_processes


@pytest.fixture
def fake_stub(tmp_path):
    """A process whose command line looks like a python backend stub's."""
    script = tmp_path / "repo" / "layoutlmv3_model" / "1" / "model.py"
    script.parent.mkdir(parents=True)
    script.write_text("import time\ntime.sleep(60)\n")
    proc = subprocess.Popen(
        [f"/opt/{STUB_NAME}", str(script), "shm-region", "layoutlmv3_model_0_0"], executable=sys.executable
    )
    yield proc
    proc.kill()
    proc.wait()


def test_proc_helpers_follow_children_and_zombies(fake_stub):
    assert fake_stub.pid in children(os.getpid())
    assert fake_stub.pid in process_tree(os.getpid())
    assert stub_processes(os.getpid()) == {fake_stub.pid: "layoutlmv3_model"}
    assert rss_bytes([fake_stub.pid]) > 1_000_000
    assert server_processes(os.getpid()) == {os.getpid(): "tritonserver", fake_stub.pid: "layoutlmv3_model_0_0"}
    memory = memory_status(fake_stub.pid)
    assert 0 < memory["RssAnon"] <= memory["VmRSS"]
    assert group_cpu_seconds(os.getpgrp()) > 0
    fake_stub.kill()
    os.waitid(os.P_PID, fake_stub.pid, os.WEXITED | os.WNOWAIT)  # dead but not reaped: a zombie
    assert not alive(fake_stub.pid) and stub_processes(os.getpid()) == {}


class FakeServer:
    def __init__(self, http_url: str):
        self.http_url = http_url
        self.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        self.starts = self.stops = 0

    def is_ready(self, model: str = "") -> bool:
        return True

    def stop(self, timeout_s: float = 30.0):
        self.stops += 1
        self.process.kill()
        self.process.wait()

    def start(self, timeout_s: float = 180.0):
        self.starts += 1
        self.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        return self


@pytest.fixture
def fake_server():
    with socket.socket() as s:  # a port nobody listens on: every probe fails at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = FakeServer(f"127.0.0.1:{port}")
    yield server
    server.stop()


def test_failed_probes_restart_after_the_threshold(fake_server):
    supervisor = Supervisor(fake_server, probe_timeout_s=1.0, failures_before_restart=2)
    first = supervisor.step()
    assert not first.healthy and not first.fatal and "probe inference failed" in first.reason
    assert fake_server.starts == 0
    supervisor.step()
    assert fake_server.starts == 1 and supervisor.restarts == 1
    assert [e.kind for e in supervisor.events] == ["unhealthy", "unhealthy", "restarting", "restarted"]


def test_a_dead_stub_or_server_restarts_at_once(fake_server, fake_stub):
    supervisor = Supervisor(fake_server, probe_timeout_s=1.0, failures_before_restart=5)
    supervisor.stubs = {fake_stub.pid: "layoutlmv3_model"}
    fake_stub.kill()
    fake_stub.wait()
    check = supervisor.step()
    assert check.fatal and "stub died: layoutlmv3_model" in check.reason and fake_server.starts == 1
    fake_server.process.kill()
    fake_server.process.wait()
    assert "tritonserver exited" in supervisor.step().reason and fake_server.starts == 2
