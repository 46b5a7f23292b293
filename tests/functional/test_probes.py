"""The Kubernetes probes and server flags of deploy/helm and deploy/kserve, run the way the
kubelet runs them, against a real tritonserver (2.51 here, from the nvidia-pytriton wheel).

- A killed python-backend stub: the python backend does not restart it (python_backend r24.06
  on) and /v2/health/live keeps answering 200, so a liveness probe there never restarts the
  pod.  The chart's liveness either asks strict /v2/health/ready (Triton 26.04+ asks every
  model instance, core commit 53fc26e) or runs its `models` command check, which also works
  on releases before that.  On 2.51 /v2/health/ready and every /v2/models/<m>/ready still say
  200 after the kill (the gap the chart's release guard covers); the command check fails.
  The expectations are per release, so the test stays right when the local server moves on.
- gRPC connections are closed after the chart's --grpc-max-connection-age and the client
  reconnects, without a failed call: how new replicas get work from connected clients.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from layoutlmv3_triton import contract
from layoutlmv3_triton.local import procfs
from layoutlmv3_triton.local.server import LocalTritonServer
from layoutlmv3_triton.local.supervisor import ProbeError, probe_inference, stub_processes

yaml = pytest.importorskip("yaml")
helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk (the Helm engine) is not installed")

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "layoutlmv3-triton"
KSERVE = REPO / "deploy" / "kserve" / "layoutlmv3-inferenceservice.yaml"
# Triton releases (server version) from which an endpoint reports a dead python-backend stub:
# per-model readiness from 2.65 (26.01: core #461 + python_backend #423, ModelInstanceReady),
# strict server readiness from 2.68 (26.04: core 53fc26e).
MODEL_READY_NOTICES = (2, 65)
SERVER_READY_NOTICES = (2, 68)
GRPC_AGE_S = 2  # the chart's server.grpcMaxConnectionAgeSeconds, shortened for the test
DEADLINE_S = 60.0  # for the reconnect to show up; it takes GRPC_AGE_S +- 10%


def _container(values: dict) -> dict:
    with helm_python.Chart.load(str(CHART)) as chart:
        out = chart.render(values=values, name="t", namespace="t", is_install=True)
    (deployment,) = [d for d in yaml.safe_load_all(out["layoutlmv3-triton/templates/deployment.yaml"]) if d]
    return deployment["spec"]["template"]["spec"]["containers"][0]


@pytest.fixture(scope="module")
def chart():
    """The chart's default container (liveness check `ready`) and the `models` check."""
    default = _container({"server": {"grpcMaxConnectionAgeSeconds": GRPC_AGE_S}})
    models = _container({"probes": {"liveness": {"check": "models"}}})
    return default, models


@pytest.fixture(scope="module")
def server(tiny_repository, tmp_path_factory, chart):
    """A real tritonserver with the chart's gRPC connection-age flags; a test kills a stub."""
    default, _ = chart
    flags = tuple(a for a in default["args"] if a.startswith("--grpc-max-connection-age"))
    assert flags == (f"--grpc-max-connection-age={GRPC_AGE_S * 1000}", "--grpc-max-connection-age-grace=75000")
    log_file = tmp_path_factory.mktemp("probes") / "tritonserver.log"
    with LocalTritonServer(tiny_repository, log_file=log_file, extra_args=flags) as server:
        yield server
    assert server.process is None


def _version(server) -> tuple[int, ...]:
    with urllib.request.urlopen(f"http://{server.http_url}/v2", timeout=5) as response:
        return tuple(int(x) for x in json.loads(response.read())["version"].split(".")[:2])


def kubelet(probe: dict, server) -> tuple[bool, str]:
    """One probe as the kubelet runs it: httpGet passes on 200-399, exec on exit status 0
    (within timeoutSeconds).  The pod's HTTP port is the local server's."""
    timeout = probe.get("timeoutSeconds", 1)
    if "httpGet" in probe:
        url = f"http://{server.http_url}{probe['httpGet']['path']}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return 200 <= response.status < 400, f"GET {probe['httpGet']['path']}: {response.status}"
        except urllib.error.HTTPError as exc:
            return False, f"GET {probe['httpGet']['path']}: {exc.code}"
    command = list(probe["exec"]["command"])
    assert command[0] == "python3" and command[3] == "8000"  # the chart's --http-port
    command[0], command[3] = sys.executable, str(server.http_port)
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def test_grpc_connections_are_closed_at_max_age_and_clients_reconnect(server):
    """A client keeps calling through one channel: the server closes its connection after the
    age, the channel reconnects (READY again after leaving READY), and no call fails."""
    grpc = pytest.importorskip("grpc")
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    states, reconnected = [], threading.Event()

    def seen(state):
        states.append(state)
        if state == grpc.ChannelConnectivity.READY and any(
            s != grpc.ChannelConnectivity.READY for s in states[states.index(grpc.ChannelConnectivity.READY) :]
        ):
            reconnected.set()

    channel = grpc.insecure_channel(server.grpc_url)
    channel.subscribe(seen, try_to_connect=True)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    calls = 0
    try:
        while not reconnected.is_set():
            assert calls < DEADLINE_S / 0.1, f"no reconnect after {calls} calls: {states}"
            assert stub.ServerLive(service_pb2.ServerLiveRequest(), timeout=5).live
            calls += 1
            reconnected.wait(0.1)
    finally:
        channel.unsubscribe(seen)
        channel.close()
    first_ready = states.index(grpc.ChannelConnectivity.READY)
    assert grpc.ChannelConnectivity.READY in states[first_ready + 1 :]
    print(f"\nconnectivity over {calls} calls: {[s.name for s in states]}")


def test_liveness_notices_a_killed_stub(server, chart):
    default, models = chart
    ready_live = default["livenessProbe"]
    command_live = models["livenessProbe"]
    assert ready_live["httpGet"]["path"] == "/v2/health/ready"
    runtime = next(d for d in yaml.safe_load_all(KSERVE.read_text()) if d)
    (runtime_container,) = runtime["spec"]["containers"]
    kserve_live = runtime_container["livenessProbe"]
    old_live = {"httpGet": {"path": "/v2/health/live", "port": "http"}, "timeoutSeconds": 5}  # before #26
    probes = {"chart ready": ready_live, "chart models": command_live, "kserve": kserve_live, "old live": old_live}
    for name, probe in probes.items():
        ok, detail = kubelet(probe, server)
        assert ok, f"{name} fails on a healthy server: {detail}"

    stubs = stub_processes(server.process.pid)
    # postprocess runs one instance: every request that reaches the step meets the dead stub
    victim = next(pid for pid, model in stubs.items() if model == contract.POSTPROCESS)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    while procfs.alive(victim):  # poll the process state until the kernel marks it dead
        assert time.monotonic() - killed_at < 10, f"stub {victim} still alive"

    with pytest.raises(ProbeError) as broken:
        probe_inference(server.http_url, timeout_s=10)
    assert broken.value.fatal and "is not healthy" in str(broken.value)

    version = _version(server)
    results = {name: kubelet(probe, server) for name, probe in probes.items()}
    print(f"\ntritonserver {'.'.join(map(str, version))}, {contract.POSTPROCESS} stub {victim} killed:")
    for name, (ok, detail) in results.items():
        print(f"  {name:13s} {'passes' if ok else 'FAILS'}: {detail.splitlines()[-1] if detail else ''}")

    # The old probe: the server process answers, so the kubelet would never restart the pod.
    assert results["old live"][0]
    # The command check fails on every release: the zombie (before 2.65), the model's ready
    # endpoint (from 2.65 on, whose readiness check also reaps the zombie).
    ok, detail = results["chart models"]
    assert not ok
    assert (
        f"python backend stub {victim} of tritonserver is dead" in detail
        or f"model {contract.POSTPROCESS} is not ready" in detail
    ), detail
    # Strict /v2/health/ready (the chart's default liveness and KServe's) from 2.68 on; the
    # chart refuses check=ready for image tags before 26.04.
    for name in ("chart ready", "kserve"):
        assert results[name][0] == (version < SERVER_READY_NOTICES), (name, version, results[name])
    model_ready = server._get(f"/v2/models/{contract.POSTPROCESS}/ready")
    assert (model_ready == 200) == (version < MODEL_READY_NOTICES), (version, model_ready)
    server.stop(timeout_s=5)  # a broken server would drain for its whole exit timeout
