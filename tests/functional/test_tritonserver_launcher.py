"""The tritonserver launcher (docker/layoutlmv3-tritonserver.sh) on a real tritonserver (2.51,
from the nvidia-pytriton wheel): it restricts the admin APIs on HTTP and gRPC, and hands the
python backend its shared-memory sizes.  The launcher's checks that need no server are in
tests/deploy/test_docker_stack.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WRAPPER = REPO / "docker" / "layoutlmv3-tritonserver.sh"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError):
        return 0  # not listening yet


def _grpc_admin_ok(port: int, headers: dict) -> bool:
    """Whether a restricted gRPC API (log settings) answers with these headers."""
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
    try:
        client.get_log_settings(headers=headers)
        return True
    except InferenceServerException:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def _wrapped_server(tmp_path: Path, key: str, args: tuple[str, ...] = (), env: dict | None = None):
    """tritonserver from nvidia-pytriton started through the wrapper; yields (process, http, grpc, log)."""
    pytriton = pytest.importorskip("pytriton")
    binary = Path(pytriton.__file__).parent / "tritonserver" / "bin" / "tritonserver"
    if not binary.is_file():
        pytest.skip("no tritonserver binary in nvidia-pytriton")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tritonserver").symlink_to(binary)
    (bin_dir / "python3").symlink_to(sys.executable)  # the launcher's repository check runs this package
    (tmp_path / "models").mkdir(exist_ok=True)
    http, grpc, metrics = _free_ports(3)
    base_env = dict(env or os.environ)
    env = dict(
        base_env,
        PATH=f"{bin_dir}{os.pathsep}{base_env['PATH']}",
        TRITON_ADMIN_KEY=key,
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), base_env.get("PYTHONPATH", "")]),
    )
    cmd = [
        "sh",
        str(WRAPPER),
        f"--model-repository={tmp_path / 'models'}",
        "--model-control-mode=none",
        "--http-address=127.0.0.1",
        "--grpc-address=127.0.0.1",
        "--metrics-address=127.0.0.1",
        f"--http-port={http}",
        f"--grpc-port={grpc}",
        f"--metrics-port={metrics}",
        "--allow-gpu-metrics=false",
        *args,
    ]
    log = tmp_path / "tritonserver.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while _status(f"http://127.0.0.1:{http}/v2/health/ready") != 200:
            assert server.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "tritonserver did not become ready"
            time.sleep(0.5)
        yield server, http, grpc, log
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.parametrize("key", ["s3cret", ""], ids=["key-set", "key-unset"])
def test_wrapper_locks_the_admin_apis(tmp_path, key):
    with _wrapped_server(tmp_path, key) as (_, http, grpc, log):
        base = f"http://127.0.0.1:{http}"
        admin = {"admin-key": key or "guess"}
        assert _status(base + "/v2/models/stats") == 200  # statistics stay open
        for path in ("/v2/logging", "/v2/trace/setting", "/v2/systemsharedmemory/status"):
            assert _status(base + path) == 403
            assert _status(base + path, admin) == (200 if key else 403)
        # gRPC: tritonserver prefixes the header name (what docs/production.md and SECURITY.md say)
        assert _grpc_admin_ok(grpc, {"triton-grpc-protocol-admin-key": key or "guess"}) == bool(key)
        assert not _grpc_admin_ok(grpc, {"admin-key": key or "guess"})
        assert not _grpc_admin_ok(grpc, {})
    if not key:
        assert "admin APIs are locked" in log.read_text()


ECHO_MODEL = """
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("y", pb_utils.get_input_tensor_by_name(r, "x").as_numpy())])
                for r in requests]
"""


def test_wrapper_sizes_the_python_backend_shared_memory(tmp_path):
    """The launcher's shm flags reach the python backend of a real tritonserver (2.51 here)."""
    from layoutlmv3_triton.local.server import backend_directory, stub_environment
    from layoutlmv3_triton.repository import python_backend

    model = tmp_path / "models" / "echo"
    (model / "1").mkdir(parents=True)
    (model / "1" / "model.py").write_text(ECHO_MODEL)
    (model / "config.pbtxt").write_text(
        'backend: "python"\ninput [{ name: "x", data_type: TYPE_FP32, dims: [1] }]\n'
        'output [{ name: "y", data_type: TYPE_FP32, dims: [1] }]\n'
    )
    args = (f"--backend-directory={backend_directory()}", "--log-verbose=1")
    with _wrapped_server(tmp_path, "k", args, env=stub_environment()) as (_, _, _, log):
        expected = (
            f"shm-default-byte-size={python_backend.SHM_DEFAULT_BYTE_SIZE},"
            f"shm-growth-byte-size={python_backend.SHM_GROWTH_BYTE_SIZE}"
        )
        assert expected in log.read_text()
