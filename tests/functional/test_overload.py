"""A strict repository (small queues, short queue timeout, small limits) on a real server:
overload is refused at the queue (the server counts it so) and reported as overload by
the client, which retries through it; nothing hangs, and configured limits hold end to
end.  The tests wait on the server's state (a stub's CPU time), never on a sleep."""

from __future__ import annotations

import json
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import bad_inputs
import numpy as np
import pytest
from server_state import metric, wait_until_working

from layoutlmv3_client import cli
from layoutlmv3_triton import contract
from layoutlmv3_triton.local.server import LocalTritonServer
from layoutlmv3_triton.repository.configs import ServingOptions
from layoutlmv3_triton.repository.writer import write_configs
from layoutlmv3_triton.serving.limits import Limits
from layoutlmv3_triton.serving.settings import PreprocessParameters

# Small, yet above the dense page the tests use to keep preprocess busy (1700x2180, ~220 KB).
LIMITS = Limits(max_request_bytes=300_000, max_image_pixels=4_000_000, max_image_side=2_500)
# One request at a time per step, two waiting, one second in the queue at most; one
# 512-token window per page, so a long page is truncated (and says so).
OPTIONS = ServingOptions(
    max_batch_size=1,
    preprocess_instances=1,
    max_queue_size=2,
    queue_timeout_us=1_000_000,
    preprocess=PreprocessParameters(max_windows_per_page=1, limits=LIMITS),
)
SMALL = bad_inputs.Case("small", "result", lambda: bad_inputs.encode(bad_inputs.text_page(size=(900, 300))))
# About 1500 words: keeps the single preprocess instance busy for seconds.
SLOW = bad_inputs.Case("slow", "result", bad_inputs.dense_page)
FLOOD = 24


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


def finished(url: str, case) -> tuple[float, bad_inputs.Outcome]:
    """The outcome, and when it came back (to order answers, never to time them)."""
    outcome = bad_inputs.send(url, case, timeout_s=120)
    return time.monotonic(), outcome


def timed_out_in_queue(server) -> float:
    """Requests preprocess's queue dropped at their timeout.  (Triton 2.51 counts a request
    refused by a full queue nowhere but in the ensemble's failures, and those twice.)"""
    return metric(server, "nv_inference_request_failure", model=contract.PREPROCESS, reason="REJECTED")


def test_flood_is_refused_at_the_queue_and_the_server_recovers(strict_server):
    url = strict_server.grpc_url
    alone = bad_inputs.send(url, SMALL)
    assert alone.ok, alone.message
    with ThreadPoolExecutor(FLOOD + 1) as pool:
        blocker = pool.submit(finished, url, SLOW)
        wait_until_working(strict_server, contract.PREPROCESS)  # the blocker is in OCR now
        flood = [pool.submit(finished, url, SMALL) for _ in range(FLOOD)]
        results = [f.result(timeout=300) for f in flood]
        blocker_done, blocker_outcome = blocker.result(timeout=300)
    refused = [(done, o) for done, o in results if not o.ok]
    served = [o for _, o in results if o.ok]
    print(
        f"\nflood of {FLOOD}: {len(served)} served, {len(refused)} refused; "
        f"messages: {sorted({o.message for _, o in refused})}"
    )
    assert blocker_outcome.ok, blocker_outcome.message
    bad_inputs.truncated(blocker_outcome.result)  # one window: most words unlabelled, and counted
    assert len(refused) >= FLOOD - 6  # at most 1 running + 2 queued per step get through
    for done, outcome in refused:
        assert outcome.status == "StatusCode.UNAVAILABLE", (outcome.status, outcome.message)
        assert done < blocker_done, "a refusal waited for the blocker instead of coming back at once"
    for outcome in served:
        assert outcome.result["pages"][0]["words"] == alone.result["pages"][0]["words"]
    assert strict_server.is_ready()
    after = bad_inputs.send(url, SMALL)
    assert after.ok and after.result["pages"][0]["words"] == alone.result["pages"][0]["words"]


def test_queue_timeout_rejects_a_request_that_waits_too_long(strict_server):
    url = strict_server.grpc_url
    dropped_before = timed_out_in_queue(strict_server)
    with ThreadPoolExecutor(2) as pool:
        blocker = pool.submit(finished, url, SLOW)
        wait_until_working(strict_server, contract.PREPROCESS)
        waited, waiting = pool.submit(finished, url, SMALL).result(timeout=300)
        blocker_done, blocker_outcome = blocker.result(timeout=300)
    assert blocker_outcome.ok, blocker_outcome.message
    assert not waiting.ok and waiting.status == "StatusCode.UNAVAILABLE", (waiting.status, waiting.message)
    assert "timeout" in waiting.message.lower(), waiting.message
    assert waited < blocker_done  # refused after the 1 s queue timeout, not served after the blocker
    assert timed_out_in_queue(strict_server) - dropped_before == 1  # and the server says why


def busy_folder(tmp_path, n: int = 6):
    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(n):
        (folder / f"page-{i}.png").write_bytes(SMALL.document())
    return folder


def run_client_during_blocker(server, *args: str) -> int:
    """``layoutlmv3-client infer ARGS`` while the dense page holds the only preprocess instance."""
    with ThreadPoolExecutor(1) as pool:
        blocker = pool.submit(bad_inputs.send, server.grpc_url, SLOW, 300)
        wait_until_working(server, contract.PREPROCESS)
        code = cli.main(["infer", *args, "--concurrency", "6", "--timeout", "120"])
        assert blocker.result(timeout=300).ok
    return code


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_client_reports_overload_as_overload(strict_server, tmp_path, capsys, protocol):
    out = tmp_path / "out.jsonl"
    url = strict_server.grpc_url if protocol == "grpc" else strict_server.http_url
    code = run_client_during_blocker(
        strict_server,
        str(busy_folder(tmp_path)),
        "--url",
        url,
        "--protocol",
        protocol,
        "--retries",
        "0",
        "--jsonl",
        str(out),
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    errors = [r["error"] for r in records if "error" in r]
    err = capsys.readouterr().err
    assert code == 1 and len(records) == 6 and len(errors) >= 4, (code, errors, err[-2000:])
    for error in errors:
        assert error["stage"] == "overload" and "overloaded" in error["message"], error
    assert "cannot reach" not in err and "is the server running" not in err and "stopped" not in err


def test_client_retries_through_a_full_queue(strict_server, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    code = run_client_during_blocker(
        strict_server,
        str(busy_folder(tmp_path)),
        "--url",
        strict_server.grpc_url,
        "--retries",
        "8",
        "--jsonl",
        str(out),
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    err = capsys.readouterr().err
    assert code == 0 and all("result" in r for r in records) and len(records) == 6, err[-2000:]
    retried = re.search(r"retried (\d+) time\(s\): overload (\d+)$", err, re.M)
    assert retried and int(retried.group(1)) == int(retried.group(2)) >= 4, err[-2000:]


@pytest.mark.parametrize(
    "name,document,reason",
    [
        (
            "over_pixels",
            lambda: bad_inputs.encode(bad_inputs.text_page(size=(2400, 1800))),
            "2400x1800 pixels; the limits are 4000000 pixels",
        ),
        ("over_side", lambda: bad_inputs.encode(bad_inputs.text_page(size=(2600, 100))), "2500 per side"),
        (
            "over_bytes",
            lambda: np.random.default_rng(1).bytes(300_001),
            "document is 300001 bytes; the limit is 300000",
        ),
    ],
)
def test_configured_limits_hold_end_to_end(strict_server, name, document, reason):
    outcome = bad_inputs.send(strict_server.grpc_url, bad_inputs.Case(name, "error", document))
    assert not outcome.ok and outcome.status == "StatusCode.INVALID_ARGUMENT", outcome
    assert "preprocess: " in outcome.message and reason in outcome.message, outcome.message
    assert bad_inputs.send(strict_server.grpc_url, SMALL).ok  # 270 000 pixels, a few KB: within the limits
