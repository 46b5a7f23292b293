"""Shared fixtures.  Functional tests share one tiny model repository and one real
tritonserver per session (started on free loopback ports, stopped at the end)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pages import FORM_LINES, font, png_bytes, render_lines  # noqa: F401  (re-exported for tests)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/functional/" in str(item.path):
            item.add_marker(pytest.mark.functional)


@pytest.fixture(scope="session")
def form_page():
    return render_lines(FORM_LINES)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from layoutlmv3_triton.synth import FUNSD_LABELS, corpus_texts
    from layoutlmv3_triton.training.scratch import build_from_scratch

    out = tmp_path_factory.mktemp("tiny-model")
    return build_from_scratch(out, corpus_texts(50, seed=0), FUNSD_LABELS, preset="tiny", vocab_size=1000)


@pytest.fixture(scope="session")
def tiny_repository(tiny_model_dir, tmp_path_factory) -> Path:
    from layoutlmv3_triton.repository.writer import build_repository

    repo = tmp_path_factory.mktemp("model_repository")
    build_repository(tiny_model_dir, repo)
    return repo


def serve(repository: Path, tmp_path_factory, log_name: str = "triton-log"):
    """A real tritonserver on free loopback ports serving ``repository``, stopped after use."""
    from layoutlmv3_triton.local.server import LocalTritonServer

    log_file = tmp_path_factory.mktemp(log_name) / "tritonserver.log"
    with LocalTritonServer(repository, log_file=log_file) as server:
        yield server
    assert server.process is None


@pytest.fixture(scope="session")
def triton_server(tiny_repository, tmp_path_factory):
    """A real tritonserver on free loopback ports, serving the tiny repository."""
    yield from serve(tiny_repository, tmp_path_factory)


@pytest.fixture(scope="session")
def funsd_dir() -> Path:
    """Real scanned forms in FUNSD's layout from ``$FUNSD_DIR``; the test skips without them."""
    import os

    folder = os.environ.get("FUNSD_DIR")
    if not folder:
        pytest.skip("FUNSD_DIR is not set: no real scanned forms to read")
    from layoutlmv3_triton.datasets import funsd_layout

    if not funsd_layout.is_layout(folder):
        pytest.skip(f"FUNSD_DIR={folder} is not in FUNSD's layout")
    return Path(folder)
