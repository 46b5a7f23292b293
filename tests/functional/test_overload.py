"""A strict repository (small queues, short queue timeout, small limits) on a real server:
overload is refused quickly and clearly, nothing hangs, and configured limits hold end
to end."""
from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import bad_inputs
from layoutlmv3_triton.repository.configs import ServingOptions
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.settings import PreprocessParameters
from layoutlmv3_triton.repository.writer import write_configs
from layoutlmv3_triton.local.server import LocalTritonServer

# Small, yet above the dense page the tests use to keep preprocess busy (1700x2180, ~220 KB).
LIMITS = Limits(max_request_bytes=300_000, max_image_pixels=4_000_000, max_image_side=2_500)
# One request at a time per step, two waiting, one second in the queue at most; one
# 512-token window per page, so a long page is truncated (and says so).
OPTIONS = ServingOptions(max_batch_size=1, preprocess_instances=1, max_queue_size=2, queue_timeout_us=1_000_000,
                         preprocess=PreprocessParameters(max_windows_per_page=1, limits=LIMITS))
SMALL = bad_inputs.Case("small", "result", lambda: bad_inputs.encode(bad_inputs.text_page(size=(900, 300))))
# About 1500 words: keeps the single preprocess instance busy for seconds.
SLOW = bad_inputs.Case("slow", "result", bad_inputs.dense_page)
FLOOD = 24
QUICK_S = 3.0  # a refusal must come back this fast, even under load


@pytest.fixture(scope="module")
def strict_server(tiny_repository, tmp_path_factory):
    # Same model files, new configs: cheaper than exporting again.
    repo = tmp_path_factory.mktemp("strict") / "repository"
    shutil.copytree(tiny_repository, repo)
    write_configs(repo, OPTIONS)
    log_file = repo.parent / "tritonserver.log"
    bad_inputs.dense_page()  # render it now, so that the blocker is sent at once
    with LocalTritonServer(repo, log_file=log_file) as server:
        yield server
    assert server.process is None


def timed_send(url: str, case) -> tuple[float, bad_inputs.Outcome]:
    start = time.monotonic()
    outcome = bad_inputs.send(url, case, timeout_s=60)
    return time.monotonic() - start, outcome


def test_flood_is_refused_fast_and_the_server_recovers(strict_server):
    url = strict_server.grpc_url
    alone = bad_inputs.send(url, SMALL)
    assert alone.ok, alone.message
    with ThreadPoolExecutor(FLOOD + 1) as pool:
        blocker = pool.submit(timed_send, url, SLOW)
        time.sleep(1.0)  # the blocker is in OCR now
        flood = [pool.submit(timed_send, url, SMALL) for _ in range(FLOOD)]
        results = [f.result(timeout=120) for f in flood]
        blocker_seconds, blocker_outcome = blocker.result(timeout=120)
    refused = [(s, o) for s, o in results if not o.ok]
    served = [o for _, o in results if o.ok]
    print(f"\nflood of {FLOOD}: {len(served)} served, {len(refused)} refused, slowest refusal "
          f"{max(s for s, _ in refused):.2f} s; messages: {sorted({o.message for _, o in refused})}")
    assert blocker_outcome.ok, blocker_outcome.message
    bad_inputs.truncated(blocker_outcome.result)  # one window: most words unlabelled, and counted
    assert len(refused) >= FLOOD - 6  # at most 1 running + 2 queued per step get through
    for seconds, outcome in refused:
        assert outcome.status == "StatusCode.UNAVAILABLE", (outcome.status, outcome.message)
        assert "exceeds maximum queue size" in outcome.message.lower() or \
            "request timeout expired" in outcome.message.lower(), outcome.message
        assert seconds < QUICK_S, (seconds, outcome.message)
    for outcome in served:
        assert outcome.result["pages"][0]["words"] == alone.result["pages"][0]["words"]
    assert strict_server.is_ready()
    after = bad_inputs.send(url, SMALL)
    assert after.ok and after.result["pages"][0]["words"] == alone.result["pages"][0]["words"]


def test_queue_timeout_rejects_a_request_that_waits_too_long(strict_server):
    url = strict_server.grpc_url
    with ThreadPoolExecutor(2) as pool:
        blocker = pool.submit(timed_send, url, SLOW)
        time.sleep(1.0)  # the blocker is in OCR now
        seconds, waiting = pool.submit(timed_send, url, SMALL).result(timeout=60)
        assert blocker.result(timeout=120)[1].ok
    assert not waiting.ok and "timeout" in waiting.message.lower(), waiting.message
    assert 0.8 < seconds < QUICK_S, seconds  # about the 1 s queue timeout, not the 5 s the blocker takes


@pytest.mark.parametrize("name,document,reason", [
    ("over_pixels", lambda: bad_inputs.encode(bad_inputs.text_page(size=(2400, 1800))),
     "2400x1800 pixels; the limits are 4000000 pixels"),
    ("over_side", lambda: bad_inputs.encode(bad_inputs.text_page(size=(2600, 100))), "2500 per side"),
    ("over_bytes", lambda: np.random.default_rng(1).bytes(300_001), "document is 300001 bytes; the limit is 300000"),
])
def test_configured_limits_hold_end_to_end(strict_server, name, document, reason):
    outcome = bad_inputs.send(strict_server.grpc_url, bad_inputs.Case(name, "error", document))
    assert not outcome.ok and outcome.status == "StatusCode.INVALID_ARGUMENT", outcome
    assert "preprocess: " in outcome.message and reason in outcome.message, outcome.message
    assert bad_inputs.send(strict_server.grpc_url, SMALL).ok  # 270 000 pixels, a few KB: within the limits
