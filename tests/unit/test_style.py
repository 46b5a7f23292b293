"""black and ruff over every Python file of the project, with nothing excluded: the
settings live in pyproject.toml, and a file either tool would skip fails here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ["src", "client", "tests", "scripts", "model_repository", "notebooks/make_notebook.py"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args, *FOLDERS], cwd=ROOT, capture_output=True, text=True)


def _python_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in path.rglob("*.py") if "__pycache__" not in p.parts]


def test_black_formats_every_file_and_skips_none():
    result = _run("black", "--check")
    assert result.returncode == 0, result.stderr
    checked = int(re.search(r"(\d+) files? would be left unchanged", result.stderr).group(1))
    ours = sum(len(_python_files(ROOT / folder)) for folder in FOLDERS)
    assert checked == ours, f"black checked {checked} of {ours} files: something is excluded"


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
