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
SUBPACKAGES = {
    "serving",
    "datasets",
    "synth",
    "training",
    "export",
    "repository",
    "images",
    "local",
    "measure",
    "commands",
}
# What each subpackage may import from the package (besides contract, errors, records), from the
# bottom up.  Tight: every entry is used (test_the_allowed_imports_are_tight), so the table is
# also the picture of the layering in README's "How the pieces fit".
ALLOWED = {
    "serving": set(),
    "datasets": {"serving"},
    "synth": set(),
    "training": {"serving", "datasets", "synth", "export"},
    "export": {"serving"},
    "repository": {"serving", "export"},
    "images": {"serving", "synth", "training"},
    "local": {"repository"},
    "measure": {"serving", "datasets", "synth", "training", "repository", "local"},
    "commands": {"serving", "datasets", "synth", "training", "export", "repository", "local", "measure"},
}
STDLIB_ONLY = ("contract.py", "errors.py", "records.py", "serving/parameters.py")


def package_imports(path: Path) -> set[str]:
    """Top-level module names (``layoutlmv3_triton.X``) that ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [node.module]
            if isinstance(node, ast.ImportFrom) and node.module
            else [a.name for a in node.names] if isinstance(node, ast.Import) else []
        )
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
    allowed = ALLOWED[role] | {role, "contract", "errors", "records", "__version__"}
    for path in (PACKAGE / role).rglob("*.py"):
        extra = package_imports(path) - allowed
        assert not extra, f"{path.relative_to(PACKAGE)} imports {sorted(extra)}"


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_the_allowed_imports_are_tight(role):
    used = set().union(*(package_imports(p) for p in (PACKAGE / role).rglob("*.py")))
    unused = ALLOWED[role] - used
    assert not unused, f"{role} no longer imports {sorted(unused)}: drop it from ALLOWED"


def test_the_subpackages_are_layered_without_circles():
    order = []  # a topological order of ALLOWED exists only if the layering has no cycle
    pending = dict(ALLOWED)
    while pending:
        ready = [role for role, needs in pending.items() if needs <= set(order)]
        assert ready, f"the allowed imports form a cycle among {sorted(pending)}"
        order += sorted(ready)
        for role in ready:
            del pending[role]


def module_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (``from x import y`` counts ``x.y`` when
    that is a module, else ``x``), anywhere in the file, type-checking imports included."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    edges.add(full if full in modules else base)
            elif isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def test_no_module_import_cycles():
    graph, state, cycles = module_graph(), {}, []

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


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
            if (
                obj.__module__ == module.__name__
                and issubclass(obj, BaseException)
                and not issubclass(obj, (LayoutLMv3TritonError, Warning))
            ):
                strays.append(f"{module.__name__}.{name}")
    assert not strays, f"derive these from LayoutLMv3TritonError: {strays}"


def test_test_modules_have_unique_basenames():
    """pytest's default import mode imports test files by basename (the test folders are
    not packages), so two ``test_x.py`` in different folders stop the whole run at
    collection on a clean clone."""
    tests_dir = Path(__file__).resolve().parents[1]
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted(tests_dir.rglob("*.py")):
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(tests_dir)} and {path.relative_to(tests_dir)}")
        seen.setdefault(path.name, path)
    assert not clashes, f"same module name twice: {clashes}"


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_subpackage_says_what_it_may_import(role):
    """The "May import:" line of each ``__init__`` names the same subpackages as ALLOWED."""
    doc = importlib.import_module(f"layoutlmv3_triton.{role}").__doc__ or ""
    assert "May import:" in doc, f"{role}/__init__.py does not say what it may import"
    said = doc.split("May import:", 1)[1].split("\n\n", 1)[0]
    named = {name for name in SUBPACKAGES if f"``{name}``" in said} - {role}
    assert named == ALLOWED[role], f"{role}: the docstring says {sorted(named)}, the table {sorted(ALLOWED[role])}"
