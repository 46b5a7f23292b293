"""The allocator every launcher preloads: one value, and the local launcher's fallbacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from layoutlmv3_triton.local.allocator import (
    ALLOCATOR_LIBRARY,
    ALLOCATOR_OVERRIDE_ENV,
    AllocatorWarning,
    allocator_environment,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def libdir(tmp_path):
    (tmp_path / ALLOCATOR_LIBRARY).write_bytes(b"")
    return (str(tmp_path),)


def test_the_library_is_preloaded_when_installed(libdir):
    env = allocator_environment({"PATH": "/bin"}, libdir)
    assert env["LD_PRELOAD"] == str(Path(libdir[0]) / ALLOCATOR_LIBRARY)


def test_a_missing_library_warns_and_changes_nothing(tmp_path):
    with pytest.warns(AllocatorWarning, match=ALLOCATOR_LIBRARY):
        assert allocator_environment({"PATH": "/bin"}, (str(tmp_path),)) == {"PATH": "/bin"}


def test_the_caller_can_keep_glibc_or_choose_another(libdir):
    assert "LD_PRELOAD" not in allocator_environment({ALLOCATOR_OVERRIDE_ENV: "system"}, libdir)
    assert allocator_environment({"LD_PRELOAD": "/x/libother.so"}, libdir)["LD_PRELOAD"] == "/x/libother.so"
    (Path(libdir[0]) / "libtcmalloc_minimal.so.4").write_bytes(b"")
    env = allocator_environment({ALLOCATOR_OVERRIDE_ENV: "libtcmalloc_minimal.so.4"}, libdir)
    assert env["LD_PRELOAD"].endswith("libtcmalloc_minimal.so.4") and ALLOCATOR_OVERRIDE_ENV not in env


@pytest.mark.parametrize(
    "path, pattern",
    [
        ("docker/server.Dockerfile", r"LD_PRELOAD=(\S+)"),
        ("docker-compose.yml", r"LD_PRELOAD:\s*(\S+)"),
        ("deploy/helm/layoutlmv3-triton/values.yaml", r"name: LD_PRELOAD\s+value:\s*(\S+)"),
    ],
)
def test_every_deployment_preloads_the_same_library(path, pattern):
    text = (ROOT / path).read_text()
    found = re.findall(pattern, text)
    assert found, f"{path} does not set LD_PRELOAD"
    assert {value.strip("\"'\\") for value in found} == {ALLOCATOR_LIBRARY}, path


def test_the_makefile_installs_it():
    from layoutlmv3_triton.local.allocator import ALLOCATOR_PACKAGE

    value = re.search(r"^APT_PACKAGES := ((?:.*\\\n)*.*)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    packages = value.replace("\\\n", " ").split()
    assert ALLOCATOR_PACKAGE in packages
