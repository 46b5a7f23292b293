"""Kill a python-backend stub of a real server.  What the project guarantees: requests
through the dead step fail at once with their own error, naming the step (none hangs);
the supervisor notices the dead stub, from the process census or from its probe alone;
and it restarts the server on the same ports, which then answers as before."""

from __future__ import annotations

import os
import signal
import threading
import time

import bad_inputs
import pytest
from server_state import wait_for

from layoutlmv3_client import DocumentClient
from layoutlmv3_client.errors import InferenceError, TransientError
from layoutlmv3_triton import contract
from layoutlmv3_triton.local.procfs import alive
from layoutlmv3_triton.local.server import LocalTritonServer
from layoutlmv3_triton.local.supervisor import Supervisor, stub_processes

GOOD = bad_inputs.Case("good", "result", bad_inputs.good_png)
REQUEST_TIMEOUT_S = 15.0  # a request that takes longer ends as DEADLINE_EXCEEDED: a hang
RECOVERY_LIMIT_S = 180.0  # how long to wait for the first good answer; a restart takes 15-30 s on 2 busy cores


@pytest.fixture
def server(tiny_repository, tmp_path):
    with LocalTritonServer(tiny_repository, log_file=tmp_path / "tritonserver.log") as server:
        yield server
    assert server.process is None


def test_killed_stub_is_detected_and_the_server_restarted(server, record_property):
    baseline = bad_inputs.send(server.grpc_url, GOOD)
    assert baseline.ok, baseline.message
    ports = (server.http_port, server.grpc_port, server.metrics_port)
    stubs = stub_processes(server.process.pid)
    assert sorted(set(stubs.values())) == sorted([contract.PREPROCESS, contract.MODEL, contract.POSTPROCESS])
    # postprocess runs one instance: every probe must go through the dead stub (the
    # model step runs two, and a probe could be served by the survivor)
    victim = next(pid for pid, model in stubs.items() if model == contract.POSTPROCESS)

    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not alive(victim), f"the {contract.POSTPROCESS} stub to die", 30)
    # A request through the dead step fails at once with its own error, which names the
    # step; it is not mistaken for a busy or absent server (no retries, no hang).
    with DocumentClient(server.grpc_url, timeout_s=REQUEST_TIMEOUT_S, retries=3) as client:
        with pytest.raises(InferenceError) as info:
            client.infer(GOOD.document())
    assert info.value.stage == contract.POSTPROCESS and info.value.status == "INTERNAL", info.value
    assert not isinstance(info.value, TransientError) and not client.retried
    # The probe inference sees the dead stub even without the process census.
    blind = Supervisor(server, probe_timeout_s=5.0)
    blind.stubs = {}
    check = blind.check()
    assert not check.healthy and check.fatal and "not healthy" in check.reason, check

    supervisor = Supervisor(server, interval_s=1.0, probe_timeout_s=5.0, start_timeout_s=180.0)
    supervisor.stubs = stubs  # as seen before the kill
    stop = threading.Event()
    watcher = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    watcher.start()
    outcomes = []
    try:
        while time.monotonic() - killed_at < RECOVERY_LIMIT_S:  # a bounded poll for the restarted server
            outcome = bad_inputs.send(server.grpc_url, GOOD, timeout_s=REQUEST_TIMEOUT_S)
            outcomes.append(outcome)
            if outcome.ok and supervisor.restarts:
                break
            time.sleep(0.25)
        recovery_s = time.monotonic() - killed_at
    finally:
        stop.set()
        watcher.join(timeout=240)
    assert not watcher.is_alive()
    record_property("recovery_s", round(recovery_s, 1))
    print(
        f"\nrecovery after killing the {contract.POSTPROCESS} stub: {recovery_s:.1f} s "
        f"({len(outcomes) - 1} requests failed during the outage)"
    )
    for event in supervisor.events:
        print(
            f"  {event.at - supervisor.events[0].at:6.1f} s  {event.kind}: {event.detail}"
            + (f" ({event.seconds:.1f} s)" if event.seconds else "")
        )

    assert outcomes[-1].ok, f"no good answer within {RECOVERY_LIMIT_S:g} s: {outcomes[-1].message}"
    # The census caught the dead stub at the first check and the server was restarted once.
    kinds = [e.kind for e in supervisor.events]
    assert kinds[:2] == ["unhealthy", "restarting"] and kinds[-1] == "restarted", kinds
    assert f"python backend stub died: {contract.POSTPROCESS}" in supervisor.events[0].detail
    assert supervisor.restarts == 1
    # During the outage every request got its own quick, explicit refusal: none hung until its deadline.
    failed = [o for o in outcomes if not o.ok]
    assert all(
        o.status in ("StatusCode.INTERNAL", "StatusCode.UNAVAILABLE", "StatusCode.NOT_FOUND") for o in failed
    ), sorted({(o.status, o.message) for o in failed})
    # Same ports, fresh stubs, every model ready, same answer.
    assert (server.http_port, server.grpc_port, server.metrics_port) == ports
    assert not set(stub_processes(server.process.pid)) & set(stubs)
    assert all(server.is_ready(model) for model in contract.ALL_MODELS)
    after = bad_inputs.send(server.grpc_url, GOOD)
    assert after.ok and after.result["pages"][0]["words"] == baseline.result["pages"][0]["words"]
