"""Security defaults of the local server: loopback only, model control off, admin APIs
locked behind a per-start key that is never written down; inference and health open."""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from pathlib import Path

import bad_inputs
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from layoutlmv3_triton import contract
from layoutlmv3_triton.local.server import ADMIN_HEADER, LocalTritonServer

GOOD = bad_inputs.Case("good", "result", bad_inputs.good_png)
# (method, path) of each restricted HTTP API, with a body where the method needs one.
RESTRICTED_HTTP = [
    ("POST", "/v2/repository/index", b"{}"),
    ("POST", f"/v2/repository/models/{contract.MODEL}/unload", b"{}"),
    ("GET", "/v2/logging", None),
    ("POST", "/v2/logging", b'{"log_verbose_level": 1}'),
    ("GET", "/v2/systemsharedmemory/status", None),
    ("GET", "/v2/cudasharedmemory/status", None),
    ("GET", "/v2/trace/setting", None),
]


def http(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://{server.http_url}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _address(hex_text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp* print addresses as 32-bit words in host (little-endian) order."""
    raw = b"".join(bytes.fromhex(hex_text[i : i + 8])[::-1] for i in range(0, len(hex_text), 8))
    address = ipaddress.ip_address(raw)
    return getattr(address, "ipv4_mapped", None) or address  # gRPC listens on ::ffff:127.0.0.1


def listening_addresses(port: int) -> set:
    """Local addresses of LISTEN sockets on ``port``, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(_address(address))
    return found


def test_binds_loopback_only(triton_server):
    assert triton_server.host == "127.0.0.1" == LocalTritonServer(Path(".")).host
    for port in (triton_server.http_port, triton_server.grpc_port, triton_server.metrics_port):
        addresses = listening_addresses(port)
        assert addresses and all(a.is_loopback for a in addresses), (port, addresses)  # no 0.0.0.0, no ::


@pytest.mark.parametrize("method,path,body", RESTRICTED_HTTP, ids=[f"{m} {p}" for m, p, _ in RESTRICTED_HTTP])
def test_admin_http_apis_refused_without_the_key(triton_server, method, path, body):
    status, text = http(triton_server, method, path, body)
    assert status == 403 and "restricted" in text, (status, text)


def test_admin_grpc_apis_refused_without_the_key(triton_server):
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        calls = [
            client.get_model_repository_index,
            client.get_log_settings,
            client.get_trace_settings,
            client.get_system_shared_memory_status,
            client.get_cuda_shared_memory_status,
            lambda: client.unload_model(contract.MODEL),
        ]
        for call in calls:
            with pytest.raises(InferenceServerException, match="restricted"):
                call()
        # The key of this start unlocks them (it lives only in the launcher's memory).
        index = client.get_model_repository_index(headers=triton_server.grpc_admin_headers)
        assert {m.name for m in index.models} == set(contract.ALL_MODELS)


def test_model_control_is_off_even_with_the_key(triton_server):
    for action in ("load", "unload"):
        status, text = http(
            triton_server,
            "POST",
            f"/v2/repository/models/{contract.MODEL}/{action}",
            b"{}",
            triton_server.admin_headers,
        )
        assert status in (400, 503) and "not allowed" in text, (action, status, text)
    with grpcclient.InferenceServerClient(triton_server.grpc_url) as client:
        with pytest.raises(InferenceServerException, match="not allowed"):
            client.unload_model(contract.MODEL, headers=triton_server.grpc_admin_headers)
        assert client.is_model_ready(contract.MODEL)


def test_inference_health_and_metadata_stay_open(triton_server):
    assert http(triton_server, "GET", "/v2/health/ready")[0] == 200
    assert http(triton_server, "GET", "/v2/health/live")[0] == 200
    status, text = http(triton_server, "GET", f"/v2/models/{contract.ENSEMBLE}")
    assert status == 200 and json.loads(text)["name"] == contract.ENSEMBLE
    assert bad_inputs.send(triton_server.grpc_url, GOOD).ok
    from layoutlmv3_triton.local.supervisor import probe_inference

    probe_inference(triton_server.http_url, timeout_s=30)  # inference over HTTP, no header


def test_admin_key_is_never_written_down(triton_server, tiny_repository):
    key = triton_server.admin_key
    assert len(key) >= 32
    assert key not in repr(triton_server)
    assert key not in " ".join(triton_server.redacted_command())
    assert key not in Path(triton_server.log_file).read_text(errors="replace")
    for path in Path(tiny_repository).rglob("*"):
        if path.is_file() and path.stat().st_size < 1_000_000:
            assert key.encode() not in path.read_bytes(), path
    assert ADMIN_HEADER in triton_server.admin_headers


def test_each_start_gets_a_new_key(tiny_repository):
    server = LocalTritonServer(tiny_repository)
    first = server.admin_key
    assert LocalTritonServer(tiny_repository).admin_key != first
    assert any(first in arg for arg in server.command())  # passed to tritonserver on its command line only
    off = LocalTritonServer(tiny_repository, restrict_apis=False)
    assert not any("restricted" in arg for arg in off.command())
