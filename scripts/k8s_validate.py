#!/usr/bin/env python3
"""Render the Helm chart with a real Helm engine and validate what it renders, offline.

No cluster and no ``helm`` binary are needed:

1. **Render.**  ``helm-python-sdk`` binds Helm's own Go library (``helm.sh/helm/v4``: the
   template engine, Sprig, ``values.schema.json`` validation, ``helm lint``) through a C ABI.
   The chart is linted (strict) and rendered per values set (the chart's defaults and every
   ``ci/*-values.yaml``) and per Kubernetes minor, as ``helm template --kube-version`` would:
   templates that test ``.Capabilities.KubeVersion`` differ between minors.  Each set is
   written to ``OUT/<set>.yaml`` (rendered for the newest minor) the way ``helm template``
   prints it (``# Source:`` comments), its NOTES to ``OUT/<set>.NOTES.txt``; minors whose
   output differs get ``OUT/<set>.k8s-<first>-<last>.yaml``.
2. **yamllint** on the rendered files, the chart's values files and the KServe example.
3. **kubernetes-validate --strict** (Kubernetes' own OpenAPI schemas, bundled for 1.25 to
   1.37; strict rejects unknown fields): each rendering against the minors it was rendered
   for, every Kubernetes minor the chart supports, from the oldest (1.25) to the newest
   (1.37); the KServe example's files too.  It only warns about kinds it has no schema for:
   those must be CRD kinds that step 4 checks (or KServe's, not checked offline), anything
   else fails.
4. **ServiceMonitor / PodMonitor** against the Prometheus Operator's CRD schema, as modelled
   by ``cloudcoil.models.prometheus_operator`` (PyPI; generated from the operator's CRDs,
   v0.80.1): types, required fields, enums and patterns, plus the fields the API server
   would prune as unknown.

Exit status 0 when everything passes; 1 with the problems listed otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "deploy" / "helm" / "layoutlmv3-triton"
KSERVE = REPO / "deploy" / "kserve"
DEFAULT_OUT = REPO / "artifacts" / "k8s"
RELEASE = "layoutlmv3-triton"
NAMESPACE = "inference"
# Every Kubernetes minor the chart supports, the oldest (Chart.yaml kubeVersion >=1.25) to the
# newest that kubernetes-validate 1.37 knows: a few seconds per values set.
KUBE_VERSIONS = tuple(f"1.{minor}" for minor in range(25, 38))
# Kinds that kubernetes-validate has no schema for and that check_monitoring() validates.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PodMonitor")}
# KServe's kinds in deploy/kserve: their CRD schemas are not available offline.
KSERVE_KINDS = {("serving.kserve.io/v1alpha1", "ServingRuntime"), ("serving.kserve.io/v1beta1", "InferenceService")}
# Rendered manifests carry long PromQL lines, in the adapter rule and the embedded dashboard JSON.
YAMLLINT_CONFIG = """
extends: default
rules:
  line-length: {max: 400, allow-non-breakable-words: true, allow-non-breakable-inline-mappings: true}
  document-start: disable
  comments: {min-spaces-from-content: 1}
  comments-indentation: disable
  indentation: {spaces: consistent, indent-sequences: whatever}
  truthy: {check-keys: false}
"""


class ValidationError(Exception):
    """One or more checks failed; ``problems`` lists them."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Rendered:
    name: str
    values_file: Path | None
    manifests: list[tuple[str, str]]  # (template path, text), helm template's order
    notes: str
    path: Path | None = None
    docs: list[dict[str, Any]] = field(default_factory=list)


# --- 1. rendering -----------------------------------------------------------------------------


def helm():
    """The Helm engine; ImportError with a hint when the package is missing."""
    try:
        import helm_python
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("helm-python-sdk is not installed: pip install -e '.[k8s]'") from exc
    helm_python.disable_logging()  # lint mode logs every `fail` it skips at INFO
    return helm_python


def values_sets(chart: Path = CHART) -> dict[str, Path | None]:
    """``default`` (the chart's own values) and one set per ``ci/<name>-values.yaml``."""
    sets: dict[str, Path | None] = {"default": None}
    for path in sorted((chart / "ci").glob("*-values.yaml")):
        sets[path.name[: -len("-values.yaml")]] = path
    return sets


def load_values(path: Path | None) -> dict[str, Any] | None:
    """A values file parsed by Helm's own YAML reader (``-f`` semantics)."""
    if path is None:
        return None
    return helm().values_from_yaml(path.read_text())


def render(
    name: str,
    values_file: Path | None,
    chart: Path = CHART,
    *,
    lint: bool = True,
    values: dict[str, Any] | None = None,
    kube_version: str | None = None,
) -> Rendered:
    """Lint and render ``chart`` with one values set, as ``helm template [--kube-version]`` would."""
    h = helm()
    if values is None:
        values = load_values(values_file)
    if lint:
        report = h.lint(str(chart), values, strict=True, namespace=NAMESPACE)
        # severity 0 unknown, 1 info, 2 warning, 3 error; strict lint fails on warnings too.
        problems = [
            f"helm lint [{name}] {m['path']}: {m['error'].strip()}"
            for m in report.get("messages", [])
            if m.get("severity", 0) >= 2
        ]
        problems += [
            f"helm lint [{name}]: {e.strip()}"
            for e in report.get("errors", [])
            if not any(e.strip() in p for p in problems)
        ]
        if problems:
            raise ValidationError(problems)
    with h.Chart.load(str(chart)) as loaded:
        out = render_manifests(loaded, values, kube_version)
    return _rendered(name, values_file, out)


def render_manifests(loaded, values: dict[str, Any] | None, kube_version: str | None = None) -> dict[str, str]:
    """Template path -> text for a loaded chart; ``kube_version`` ("1.27") sets
    ``.Capabilities.KubeVersion`` as ``helm template --kube-version`` does."""
    if kube_version is None:
        return loaded.render(values=values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    # helm-python-sdk 0.2.2's Chart.render() does not pass kube_version on, but the engine's
    # render call reads it from the same options object (as its lint call does).
    from helm_python import _native
    from helm_python.chart import _dumps

    options = {
        "name": RELEASE,
        "namespace": NAMESPACE,
        "is_install": True,
        "kube_version": f"v{kube_version}.0" if kube_version.count(".") == 1 else f"v{kube_version}",
    }
    return json.loads(_native.call_string("helm_render", loaded._raw(), _dumps(values), json.dumps(options)))


def render_versions(
    name: str, values_file: Path | None, versions: tuple[str, ...], chart: Path = CHART
) -> list[tuple[tuple[str, ...], Rendered]]:
    """Lint once, render for each Kubernetes minor, and group the minors whose output is the
    same; the group of the newest minor comes first."""
    values = load_values(values_file)
    render(name, values_file, chart, values=values)  # the lint, and a render error if any
    groups: dict[str, tuple[list[str], Rendered]] = {}
    with helm().Chart.load(str(chart)) as loaded:
        for version in sorted(versions, key=_minor, reverse=True):
            rendered = _rendered(name, values_file, render_manifests(loaded, values, version))
            key = json.dumps(rendered.manifests)
            groups.setdefault(key, ([], rendered))[0].append(version)
    return [(tuple(sorted(vs, key=_minor)), r) for vs, r in groups.values()]


def _minor(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def _rendered(name: str, values_file: Path | None, out: dict[str, str]) -> Rendered:
    notes = ""
    manifests = []
    for source in sorted(out, key=_helm_order):
        text = out[source]
        if source.endswith("NOTES.txt"):
            notes = text
        elif source.endswith((".yaml", ".yml")) and text.strip():
            manifests.append((source, text.strip("\n")))
    return Rendered(name, values_file, manifests, notes)


def _helm_order(source: str) -> tuple[int, str]:
    # helm template prints hooks (tests/) after the release's own objects.
    return (1 if "/templates/tests/" in source else 0, source)


def write(rendered: Rendered, out: Path, suffix: str = "") -> Path:
    """``OUT/<set><suffix>.yaml``, and the NOTES next to the main one (no suffix)."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    chunks = []
    for source, text in rendered.manifests:
        for doc in re.split(r"(?m)^---\s*$", text):
            if doc.strip():
                chunks.append(f"---\n# Source: {source}\n{doc.strip(chr(10))}\n")
    path = out / f"{rendered.name}{suffix}.yaml"
    path.write_text("".join(chunks))
    if not suffix:
        (out / f"{rendered.name}.NOTES.txt").write_text(rendered.notes)
    rendered.path = path
    rendered.docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return path


# --- 2. yamllint ------------------------------------------------------------------------------


def check_yamllint(paths: list[Path]) -> list[str]:
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(YAMLLINT_CONFIG)
    problems = []
    for path in paths:
        for p in linter.run(path.read_text(), config, str(path)):
            if p.level == "error" or p.level == "warning":
                problems.append(f"yamllint {_rel(path)}:{p.line}:{p.column}: [{p.level}] {p.message} ({p.rule})")
    return problems


# --- 3. kubernetes-validate -------------------------------------------------------------------

_WARN_KIND = re.compile(r"Couldn't find schema for kind (\S+) with api version (\S+)")


def check_kubernetes(
    path: Path, versions: tuple[str, ...] = KUBE_VERSIONS, unchecked_kinds: set[tuple[str, str]] = CRD_KINDS
) -> list[str]:
    """``kubernetes-validate --strict`` for each version; its warnings count unless about
    ``unchecked_kinds`` ((apiVersion, kind) pairs: CRDs checked elsewhere, or not at all)."""
    cmd = [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet"]
    for version in versions:
        cmd += ["-k", f"{version}.0" if version.count(".") == 1 else version]
    cmd.append(str(path))
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    problems = []
    for line in (done.stdout + done.stderr).splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("WARN"):
            m = _WARN_KIND.search(line)
            if m and (m.group(2), m.group(1)) in unchecked_kinds:
                continue  # a CRD kind: check_monitoring() checks the operator's
        if line.startswith(("WARN", "ERROR", "FATAL")) or "Traceback" in line:
            problems.append(f"kubernetes-validate {_rel(path)}: {line}")
    if done.returncode != 0 and not problems:
        problems.append(f"kubernetes-validate {_rel(path)}: exit {done.returncode}: {done.stdout}{done.stderr}")
    return problems


# --- 4. ServiceMonitor / PodMonitor against the operator's CRD -------------------------------


def check_monitoring(docs: list[dict[str, Any]], where: str = "") -> list[str]:
    """Validate the Prometheus Operator objects among ``docs``; others are ignored."""
    from cloudcoil.models.prometheus_operator import v1
    from pydantic import ValidationError as PydanticError

    models = {"ServiceMonitor": v1.ServiceMonitor, "PodMonitor": v1.PodMonitor}
    problems = []
    for doc in docs:
        if (doc.get("apiVersion"), doc.get("kind")) not in CRD_KINDS:
            continue
        label = f"{where}{doc['kind']}/{doc.get('metadata', {}).get('name')}"
        try:
            obj = models[doc["kind"]].model_validate(doc)
        except PydanticError as exc:
            for err in exc.errors():
                loc = ".".join(str(x) for x in err["loc"])
                problems.append(f"CRD schema {label}: {loc}: {err['msg']}")
            continue
        # The API server prunes fields the CRD's structural schema does not know: a typo
        # would be dropped silently.  The model drops them too; compare to find them.
        kept = obj.model_dump(by_alias=True, exclude_unset=True, mode="json")
        for path in _missing(doc, kept):
            problems.append(f"CRD schema {label}: unknown field {path} (would be pruned)")
    return problems


def _missing(given: Any, kept: Any, path: str = "") -> list[str]:
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            return [path or "."]
        out = []
        for key, value in given.items():
            sub = f"{path}.{key}" if path else key
            if key not in kept:
                out.append(sub)
            else:
                out += _missing(value, kept[key], sub)
        return out
    if isinstance(given, list) and isinstance(kept, list):
        out = []
        for i, (g, k) in enumerate(zip(given, kept)):
            out += _missing(g, k, f"{path}[{i}]")
        return out
    return []


# --- driver -----------------------------------------------------------------------------------


def _is_manifest(path: Path) -> bool:
    """Kubernetes objects (apiVersion + kind), not a values file."""
    import yaml

    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return bool(docs) and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs)


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def validate(
    out: Path = DEFAULT_OUT,
    *,
    chart: Path = CHART,
    only: list[str] | None = None,
    versions: tuple[str, ...] = KUBE_VERSIONS,
    log=print,
) -> list[Rendered]:
    """Render every values set into ``out`` and run all checks; raise ValidationError."""
    sets = values_sets(chart)
    if only:
        unknown = sorted(set(only) - set(sets))
        if unknown:
            raise ValidationError([f"unknown values set(s): {', '.join(unknown)}; have {', '.join(sets)}"])
        sets = {k: v for k, v in sets.items() if k in only}
    problems: list[str] = []
    results: list[Rendered] = []
    lint_paths: list[Path] = []
    for name, values_file in sets.items():
        try:
            groups = render_versions(name, values_file, versions, chart)
        except ValidationError as exc:
            problems += exc.problems
            continue
        except Exception as exc:  # HelmRenderError, HelmValuesError, ...
            problems.append(f"render [{name}]: {type(exc).__name__}: {exc}")
            continue
        for i, (group, rendered) in enumerate(groups):
            path = write(rendered, out, "" if i == 0 else f".k8s-{group[0]}-{group[-1]}")
            lint_paths.append(path)
            if i == 0:
                results.append(rendered)
                kinds = ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in rendered.docs)
                log(f"rendered [{name}] -> {_rel(path)}: {len(rendered.docs)} objects: {kinds}")
            else:
                log(f"rendered [{name}] for Kubernetes {', '.join(group)} -> {_rel(path)}")
            problems += check_kubernetes(path, group)
            problems += check_monitoring(rendered.docs, f"[{name}] ")
    lint_paths += [chart / "values.yaml", chart / "Chart.yaml", *sorted((chart / "ci").glob("*.yaml"))]
    if chart == CHART:
        lint_paths += sorted(KSERVE.glob("*.yaml"))
        for path in sorted(KSERVE.glob("*.yaml")):
            if _is_manifest(path):
                problems += check_kubernetes(path, versions, CRD_KINDS | KSERVE_KINDS)
    problems += check_yamllint(lint_paths)
    if problems:
        raise ValidationError(problems)
    log(
        f"ok: {len(results)} values set(s); helm lint --strict; yamllint; kubernetes-validate --strict "
        f"for Kubernetes {', '.join(versions)} (each rendered for its own version); ServiceMonitor/PodMonitor "
        f"against the CRD schema"
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="k8s_validate.py",
        description="Render the layoutlmv3-triton Helm chart with Helm's own engine (helm-python-sdk) "
        "for each values set, then check the output offline: helm lint --strict, yamllint, "
        "kubernetes-validate --strict for every supported Kubernetes minor (1.25 to 1.37), and "
        "the ServiceMonitor/PodMonitor against the Prometheus Operator CRD schema.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="folder for <set>.yaml and <set>.NOTES.txt (default: artifacts/k8s)",
    )
    parser.add_argument("--chart", type=Path, default=CHART, help="chart folder (default: %(default)s)")
    parser.add_argument(
        "--values-set",
        action="append",
        dest="only",
        metavar="NAME",
        help="render only this set (repeatable); see --list",
    )
    parser.add_argument(
        "--kube-version",
        action="append",
        dest="versions",
        metavar="X.Y",
        help=f"Kubernetes version(s) to validate against (default: {' '.join(KUBE_VERSIONS)})",
    )
    parser.add_argument("--list", action="store_true", help="list the values sets and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, path in values_sets(args.chart).items():
            print(f"{name}\t{_rel(path) if path else '(chart defaults)'}")
        return 0
    try:
        validate(
            args.out,
            chart=args.chart,
            only=args.only,
            versions=tuple(args.versions) if args.versions else KUBE_VERSIONS,
        )
    except ImportError as exc:
        print(f"k8s-validate: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"k8s-validate: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
