"""The client's error mapping (by status code, for both protocols) and its retries.

The statuses are the ones Triton 2.51 answers (read off a real server; the functional
check is tests/functional/test_overload.py).  The messages below deliberately say
something else than the status, to show that only the status decides.
"""

from __future__ import annotations

import random
import threading

import pytest
from tritonclient.utils import InferenceServerException as ISE

from layoutlmv3_client.api import DocumentClient
from layoutlmv3_client.errors import (
    BadInputError,
    ClientError,
    InferenceError,
    ModelNotReadyError,
    OverloadedError,
    RequestTimeoutError,
    ServerUnavailableError,
    TransientError,
)
from layoutlmv3_client.request import server_stage, status_name, translate_error
from layoutlmv3_client.retry import DEFAULT_RETRIES, RetryPolicy
from layoutlmv3_triton import contract

QUEUE_FULL = "in ensemble 'layoutlmv3_ensemble', [request id: <id_unknown>] Exceeds maximum queue size"
BAD_PAGE = "in ensemble 'layoutlmv3_ensemble', preprocess: cannot decode image: not a known image format"


def translate(exc, protocol="grpc", live=True):
    return translate_error(exc, "triton:8001", protocol, contract.ENSEMBLE, 7, server_live=lambda: live)


@pytest.mark.parametrize(
    "grpc_status,http_status,error,stage",
    [
        ("StatusCode.UNAVAILABLE", "503", OverloadedError, "overload"),
        ("StatusCode.DEADLINE_EXCEEDED", None, RequestTimeoutError, "timeout"),
        ("StatusCode.NOT_FOUND", "404", ModelNotReadyError, "ready"),
        ("StatusCode.INVALID_ARGUMENT", "400", BadInputError, "preprocess"),
        ("StatusCode.INTERNAL", "500", InferenceError, "preprocess"),
    ],
)
def test_triton_statuses_map_to_one_error_each(grpc_status, http_status, error, stage):
    for protocol, status in (("grpc", grpc_status), ("http", http_status)):
        if status is None:
            continue
        for message in (QUEUE_FULL, BAD_PAGE, "failed to connect to all addresses"):
            got = translate(ISE(message, status), protocol)
            assert type(got) is error, (protocol, status, message, got)
            if error in (InferenceError, BadInputError):
                assert got.message == message and got.status == status_name(status)
                assert got.stage == server_stage(message)
            else:
                assert got.stage == stage
    assert status_name("StatusCode.UNAVAILABLE") == status_name("503") == "UNAVAILABLE"


def test_the_messages_say_what_happened():
    busy = translate(ISE(QUEUE_FULL, "StatusCode.UNAVAILABLE"))
    assert "overloaded" in busy.message and "Exceeds maximum queue size" in busy.message
    assert "cannot reach" not in busy.message and "is the server running" not in busy.message
    late = translate(ISE("Deadline Exceeded", "StatusCode.DEADLINE_EXCEEDED"))
    assert "within 7 s" in late.message and "--timeout" in late.message
    assert isinstance(translate(ISE("x", "StatusCode.INTERNAL")), InferenceError)
    assert translate(ISE(BAD_PAGE, "400"), "http").to_dict() == {"stage": "preprocess", "message": BAD_PAGE}


def test_grpc_unavailable_from_a_dead_server_is_unreachable():
    """gRPC says UNAVAILABLE both for a full queue and for no server: liveness tells them apart."""
    down = translate(ISE("failed to connect to all addresses", "StatusCode.UNAVAILABLE"), live=False)
    assert type(down) is ServerUnavailableError and down.stage == "connect"
    assert "cannot reach Triton at triton:8001 over grpc" in down.message and "layoutlmv3-triton serve" in down.message
    # Over HTTP a refused connection is a socket error; a 503 always came from a server.
    assert type(translate(ConnectionRefusedError(111, "refused"), "http", live=False)) is ServerUnavailableError
    assert type(translate(ISE(QUEUE_FULL, "503"), "http", live=False)) is OverloadedError
    assert type(translate(TimeoutError("timed out"), "http")) is RequestTimeoutError


def test_transient_errors_are_the_retried_ones():
    for error in (OverloadedError, RequestTimeoutError, ServerUnavailableError):
        assert issubclass(error, TransientError) and issubclass(error, ClientError)
    for error in (ModelNotReadyError, InferenceError, BadInputError):
        assert not issubclass(error, TransientError)


def test_server_stage_reads_the_steps_prefix_or_the_instance_name():
    assert server_stage(BAD_PAGE) == "preprocess"
    assert server_stage(f"Failed to process the request(s) for model instance '{contract.MODEL}_0_0'") == contract.MODEL
    assert server_stage(QUEUE_FULL) is None


# --- retries --------------------------------------------------------------------------
def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half():
    policy = RetryPolicy(retries=8, base_s=1.0, cap_s=10.0, rng=random.Random(3))
    for attempt, step in enumerate([1, 2, 4, 8, 10, 10]):
        pauses = [policy.delay(attempt) for _ in range(200)]
        assert all(step / 2 <= p <= step for p in pauses), (attempt, min(pauses), max(pauses))
        assert max(pauses) - min(pauses) > step / 4  # jittered, not one fixed pause
    assert DEFAULT_RETRIES == RetryPolicy().retries == 5
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)


def flaky(failures: list[Exception], result="ok"):
    calls = []

    def fn():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def test_retry_sends_again_after_transient_errors_only():
    seen = []
    policy = RetryPolicy(retries=3, base_s=0.0, cap_s=0.0)
    fn, calls = flaky([OverloadedError("busy", "overload"), RequestTimeoutError("late", "timeout")])
    assert policy.call(fn, lambda exc, n, pause: seen.append((exc.stage, n))) == "ok"
    assert len(calls) == 3 and seen == [("overload", 1), ("timeout", 2)]

    fn, calls = flaky([BadInputError("preprocess: junk", "preprocess")])
    with pytest.raises(BadInputError):
        policy.call(fn)
    assert len(calls) == 1  # the document's own fault: sending it again would not help

    fn, calls = flaky([OverloadedError("busy", "overload") for _ in range(5)])
    with pytest.raises(OverloadedError, match=r"busy \(still failing after 3 retries\)"):
        policy.call(fn)
    assert len(calls) == 4


def test_a_stopped_policy_gives_up_instead_of_pausing():
    policy = RetryPolicy(retries=5, base_s=60.0, cap_s=60.0)
    policy.stop.set()
    fn, calls = flaky([OverloadedError("busy", "overload")] * 3)
    with pytest.raises(OverloadedError):
        policy.call(fn)  # would pause a minute without the stop
    assert len(calls) == 1


class FakeTriton:
    """Stands in for tritonclient's client: refuses ``busy`` requests with a full queue."""

    def __init__(self, busy: int, live: bool = True):
        self.busy, self.live, self.calls = busy, live, 0
        self.lock = threading.Lock()

    def infer(self, *args, **kwargs):
        with self.lock:
            self.calls += 1
            refuse = self.calls <= self.busy
        if refuse:
            raise ISE(QUEUE_FULL, "StatusCode.UNAVAILABLE")
        raise ISE(BAD_PAGE, "StatusCode.INVALID_ARGUMENT")  # an answer that ends the retries

    def is_server_live(self, **kwargs):
        if not self.live:
            raise ISE("failed to connect to all addresses", "StatusCode.UNAVAILABLE")
        return True


@pytest.mark.parametrize("live", [True, False])
def test_document_client_retries_a_full_queue_and_counts_it(monkeypatch, live):
    fake = FakeTriton(busy=2, live=live)
    client = DocumentClient("127.0.0.1:9", retries=3)
    client.retry = RetryPolicy(3, base_s=0.0, cap_s=0.0)
    monkeypatch.setattr(client, "_client", lambda: fake)
    with pytest.raises(BadInputError):
        client.infer(b"\x89PNG")
    assert fake.calls == 3
    assert client.retried == {"overload" if live else "connect": 2}

    client.retried.clear()
    fake.calls, fake.busy = 0, 10
    with pytest.raises(OverloadedError if live else ServerUnavailableError, match="after 3 retries"):
        client.infer(b"\x89PNG")
    assert fake.calls == 4 and sum(client.retried.values()) == 3


def test_no_retries_when_asked_for_none(monkeypatch):
    fake = FakeTriton(busy=1)
    client = DocumentClient("127.0.0.1:9", retries=0)
    monkeypatch.setattr(client, "_client", lambda: fake)
    with pytest.raises(OverloadedError) as info:
        client.infer(b"\x89PNG")
    assert fake.calls == 1 and "after" not in info.value.message and not client.retried
