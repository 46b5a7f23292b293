"""The package's shape: few top-level modules, subpackages by role, imports that follow
the layering in README's "How the pieces fit", and one exception hierarchy."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import layoutlmv3_triton
from layoutlmv3_triton.errors import LayoutLMv3TritonError

PACKAGE = Path(layoutlmv3_triton.__file__).parent
CLIENT = PACKAGE.parents[1] / "client" / "layoutlmv3_client"
TOP_LEVEL = {"__init__.py", "cli.py", "contract.py", "errors.py", "records.py"}
SUBPACKAGES = {"serving", "build", "local", "measure", "synth", "training", "commands"}
# What each subpackage may import from the package (besides contract, errors, records).
ALLOWED = {
    "serving": {"serving"},
    "build": {"serving", "build", "training", "synth"},
    "local": {"serving", "build", "local"},
    "measure": {"serving", "build", "local", "measure", "training", "synth"},
    "synth": {"synth", "serving", "measure"},
    "training": {"training", "serving", "measure", "synth"},
    "commands": SUBPACKAGES,
}
STDLIB_ONLY = ("contract.py", "errors.py", "records.py", "serving/parameters.py")


def package_imports(path: Path) -> set[str]:
    """Top-level module names (``layoutlmv3_triton.X``) that ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            parts = name.split(".")
            if parts[0] == "layoutlmv3_triton" and len(parts) > 1:
                found.add(parts[1])
            elif isinstance(node, ast.ImportFrom) and name == "layoutlmv3_triton":
                found.update(a.name for a in node.names)
    return found


def third_party_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_few_modules_at_the_top_and_subpackages_by_role():
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top <= TOP_LEVEL, f"move {sorted(top - TOP_LEVEL)} into a subpackage"
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == SUBPACKAGES


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_subpackages_import_only_what_their_role_allows(role):
    allowed = ALLOWED[role] | {"contract", "errors", "records", "__version__"}
    for path in (PACKAGE / role).rglob("*.py"):
        extra = package_imports(path) - allowed
        assert not extra, f"{path.relative_to(PACKAGE)} imports {sorted(extra)}"


@pytest.mark.parametrize("relative", STDLIB_ONLY)
def test_shared_definitions_need_only_the_standard_library(relative):
    import sys

    outside = third_party_imports(PACKAGE / relative) - set(sys.stdlib_module_names) - {"layoutlmv3_triton"}
    assert not outside, f"{relative} imports {sorted(outside)}"


def test_the_client_imports_neither_torch_nor_transformers():
    for path in CLIENT.rglob("*.py"):
        heavy = third_party_imports(path) & {"torch", "transformers", "onnxruntime", "lightning"}
        assert not heavy, f"{path.name} imports {sorted(heavy)}"
        assert package_imports(path) <= {"contract", "records"}, path.name


def test_every_exception_the_package_defines_derives_from_its_base():
    strays = []
    for info in pkgutil.walk_packages(layoutlmv3_triton.__path__, "layoutlmv3_triton."):
        if info.name.endswith("tensorrt"):
            continue  # imports tensorrt only when building; checked below by source
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__ and issubclass(obj, BaseException) \
                    and not issubclass(obj, (LayoutLMv3TritonError, Warning)):
                strays.append(f"{module.__name__}.{name}")
    assert not strays, f"derive these from LayoutLMv3TritonError: {strays}"
