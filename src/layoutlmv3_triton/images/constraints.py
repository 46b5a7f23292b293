"""The pip constraints file of the Docker images: the versions the test suite ran with.

``docker/constraints.txt`` pins every package that the images install from this project's
extras (and what those pull in) to the version installed in the environment that ran the
tests.  Without it, pip in an image resolves whatever is newest for the image's Python,
which is not what was tested.

Inside an image, the packages the base image already has (NVIDIA's CUDA builds of torch,
TensorRT, numpy, tritonclient in the SDK image...) keep the base image's version: the
``for-image`` command drops their pins, so that they never fight NGC's own constraints.

This module imports only the standard library: the Dockerfiles run it before the project
is installed (``PYTHONPATH=src python3 -m layoutlmv3_triton.images.constraints ...``).

  python -m layoutlmv3_triton.images.constraints generate > docker/constraints.txt
  python -m layoutlmv3_triton.images.constraints for-image docker/constraints.txt -o /tmp/c.txt
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

PROJECT = "layoutlmv3-triton"
# The extras the images install: server (serving), client (client), workflow (train, notebook).
IMAGE_EXTRAS = ("client", "serving", "export", "train", "notebook")
# Never pinned from here: the GPU images bring their own CUDA builds, and the local-only
# server stack (the pytriton wheel, tritonclient 2.51) never goes into an image.
NOT_PINNED = {
    "torch",
    "triton",
    "tensorrt",
    "nvidia-pytriton",
    "tritonclient",
    "triton-model-analyzer",
    "nvidia-cuda-runtime-cu12",
}
# The local stack (tritonserver and tritonclient 2.51) holds some shared dependencies back here
# (numpy<2, protobuf<5): the images' newer tritonclient must be free to move them.
LOCAL_STACK = {"nvidia-pytriton": set(), "tritonclient": {"all"}}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
HEADER = (
    "# Versions the test suite ran with, for pip inside the Docker images (PIP_CONSTRAINT).\n"
    "# Generated: python -m layoutlmv3_triton.images.constraints generate > docker/constraints.txt\n"
    "# The images drop the pins of packages their base image already ships (for-image).\n"
)


def canonical(name: str) -> str:
    """PEP 503 normalised name: ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if not match:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def _requested_extras(requirement: str) -> set[str]:
    match = re.match(r"^\s*[A-Za-z0-9._-]+\s*\[([^\]]*)\]", requirement)
    return {canonical(e) for e in match.group(1).split(",") if e.strip()} if match else set()


def _applies(requirement: str, extras: set[str]) -> bool:
    """Whether ``requirement`` holds for these extras; other environment markers count as met
    (a constraint on a package that is not installed has no effect)."""
    _, _, marker = requirement.partition(";")
    wanted = {canonical(e) for e in _EXTRA_MARKER.findall(marker)}
    return not wanted or bool(wanted & extras)


def project_requirements(pyproject: str | Path, extras: tuple[str, ...] = IMAGE_EXTRAS) -> list[str]:
    """The requirements of the project's core and ``extras``, self-references expanded
    (read from pyproject.toml: an editable install's metadata may be older)."""
    import tomllib  # Python 3.11+: only ``generate`` and the tests read pyproject.toml

    project = tomllib.loads(Path(pyproject).read_text())["project"]
    optional = {canonical(k): v for k, v in project.get("optional-dependencies", {}).items()}
    requirements, todo, done = list(project.get("dependencies", [])), [canonical(e) for e in extras], set()
    while todo:
        extra = todo.pop()
        if extra in done:
            continue
        done.add(extra)
        for requirement in optional[extra]:
            if requirement_name(requirement) == PROJECT:
                todo.extend(_requested_extras(requirement))
            else:
                requirements.append(requirement)
    return requirements


def local_stack_names() -> set[str]:
    """What the installed local-only stack requires, which this venv resolved for Triton 2.51."""
    names = set()
    for name, extras in LOCAL_STACK.items():
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        names |= {requirement_name(r) for r in requires if _applies(r, extras)}
    return names


def unpinned_names() -> set[str]:
    """Names the constraints leave to the images: NVIDIA's and the local stack's."""
    return NOT_PINNED | local_stack_names()


def closure(requirements: list[str]) -> dict[str, str]:
    """Installed name -> version of every distribution that ``requirements`` pull in, less
    what the local-only stack holds back (:func:`local_stack_names`)."""
    pending = [(requirement_name(r), _requested_extras(r)) for r in requirements if _applies(r, set())]
    seen: dict[str, set[str]] = {}
    versions: dict[str, str] = {}
    unpinned = unpinned_names()
    while pending:
        name, wanted = pending.pop()
        if name in NOT_PINNED or (name in seen and wanted <= seen[name]):
            continue
        seen[name] = seen.get(name, set()) | wanted
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # e.g. a marker for another platform
        if name not in unpinned:
            versions[name] = dist.version
        for requirement in dist.requires or ():
            if _applies(requirement, seen[name]):
                pending.append((requirement_name(requirement), _requested_extras(requirement)))
    return dict(sorted(versions.items()))


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))


def read(path: str | Path) -> dict[str, str]:
    """``name==version`` lines of a constraints file (comments and blanks skipped)."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise ValueError(f"{path}: only exact pins belong in a constraints file: {line!r}")
            pins[canonical(name)] = version.strip()
    return pins


def installed_names() -> set[str]:
    return {canonical(d.metadata["Name"]) for d in metadata.distributions() if d.metadata["Name"]}


def for_image(pins: dict[str, str], preinstalled: set[str]) -> dict[str, str]:
    """The pins minus what the base image already ships: NVIDIA's builds keep their versions."""
    return {name: version for name, version in pins.items() if name not in preinstalled}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m layoutlmv3_triton.images.constraints",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    generate = sub.add_parser("generate", help="print the constraints of this environment's image extras")
    generate.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    image = sub.add_parser("for-image", help="drop the pins of packages already installed here")
    image.add_argument("constraints", type=Path)
    image.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "generate":
        sys.stdout.write(render(closure(project_requirements(args.pyproject))))
        return 0
    pins = read(args.constraints)
    kept = for_image(pins, installed_names())
    args.output.write_text(render(kept))
    dropped = sorted(set(pins) - set(kept))
    print(f"constraints: {len(kept)} pinned, {len(dropped)} left to the base image: {' '.join(dropped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
