"""The local launcher starts tritonserver the way the container does where it matters."""

from __future__ import annotations

from layoutlmv3_triton.local.server import LocalTritonServer
from layoutlmv3_triton.repository import python_backend


def test_local_server_sizes_python_backend_shared_memory_like_the_container(tmp_path):
    command = LocalTritonServer(tmp_path).command()
    for flag in python_backend.backend_config_flags():
        assert flag in command
    assert python_backend.SHM_DEFAULT_BYTE_SIZE >= python_backend.preprocess_response_bytes(64)


def test_local_server_stays_on_loopback_with_model_control_off(tmp_path):
    command = LocalTritonServer(tmp_path).command()
    assert "--model-control-mode=none" in command
    assert {"--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--metrics-address=127.0.0.1"} <= set(command)
