"""The Helm chart (deploy/helm/layoutlmv3-triton), rendered by Helm's own engine, offline.

- ``scripts/k8s_validate.py`` (= ``make k8s-validate``) renders every values set with
  helm-python-sdk (Helm's Go library), then runs helm lint --strict, yamllint,
  kubernetes-validate --strict for Kubernetes 1.25..1.37 and the ServiceMonitor/PodMonitor
  CRD check.  It runs here as CI does, and each checker is shown to catch a broken object.
- The rendered objects are then checked for what matters in production: the security
  context, the probes (liveness that notices a dead python-backend stub), whole-core CPU
  requests, GPUs, /dev/shm, the CUDA cache, the admin key from a Secret, autoscaling/v2 on the
  adapter's metrics, the rollout deadline, the PodDisruptionBudget and shutdown, the
  NetworkPolicy, the `helm test` pod, monitoring, and the KServe example.
- Bad values fail at install time (values.schema.json and the templates' own checks).
- The chart agrees with the compose stack (server flags, image wrapper) and its copy of the
  Grafana dashboard equals deploy/grafana's.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
helm_python = pytest.importorskip("helm_python", reason="helm-python-sdk (the Helm engine) is not installed")

from layoutlmv3_triton import contract  # noqa: E402
from layoutlmv3_triton.export.tensorrt import ORT_TRT_ENGINE_CACHE  # noqa: E402
from layoutlmv3_triton.local.allocator import ALLOCATOR_LIBRARY  # noqa: E402
from layoutlmv3_triton.repository import python_backend  # noqa: E402
from layoutlmv3_triton.repository.configs import ServingOptions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "layoutlmv3-triton"
SCRIPT = REPO / "scripts" / "k8s_validate.py"
KSERVE = REPO / "deploy" / "kserve" / "layoutlmv3-inferenceservice.yaml"
COMPOSE = REPO / "docker-compose.yml"
SETS = ("default", "gpu-autoscaling", "cpu-podmonitor-gcs", "cpu-s3-irsa", "gpu-ppocr")
# The sets whose liveness is the command check (probes.liveness.check=models).
COMMAND_LIVENESS = ("cpu-s3-irsa", "gpu-ppocr")
KSERVE_HPA = REPO / "deploy" / "kserve" / "layoutlmv3-hpa.yaml"
KSERVE_ADAPTER = REPO / "deploy" / "kserve" / "prometheus-adapter-values.yaml"


def _load_script():
    spec = importlib.util.spec_from_file_location("k8s_validate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["k8s_validate"] = module
    spec.loader.exec_module(module)
    return module


kv = _load_script()


# --- the validation run, as CI runs it -------------------------------------------------------


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """`scripts/k8s_validate.py --out DIR`: every values set rendered and every check passed."""
    out = tmp_path_factory.mktemp("k8s")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok: {len(SETS)} values set(s)" in done.stdout
    return out, done.stdout


@pytest.fixture(scope="module")
def rendered(validated):
    out, _ = validated
    return {name: [d for d in yaml.safe_load_all((out / f"{name}.yaml").read_text()) if d] for name in SETS}


def one(docs, kind, suffix=""):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"{kind}{suffix}: {[d['metadata']['name'] for d in found]}"
    return found[0]


def server(docs):
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return pod, container


def test_script_help():
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    for option in ("--out", "--values-set", "--kube-version", "--list"):
        assert option in done.stdout


def test_script_lists_the_values_sets():
    done = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == list(kv.values_sets())
    assert set(SETS) == set(kv.values_sets())


def test_the_engine_is_helm():
    """helm-python-sdk renders with Helm's Go library, not a re-implementation."""
    assert helm_python.helm_sdk_version().startswith("v4.")
    # Sprig and Helm's own functions work: proof of the real engine.
    with helm_python.Chart.load(str(CHART)) as chart:
        assert chart.metadata["name"] == "layoutlmv3-triton"
        assert chart.schema is not None  # values.schema.json is loaded and enforced


def test_every_set_is_written_with_sources_and_notes(validated):
    out, log = validated
    for name in SETS:
        text = (out / f"{name}.yaml").read_text()
        assert text.startswith("---\n# Source: layoutlmv3-triton/templates/")
        assert f"rendered [{name}]" in log
        notes = (out / f"{name}.NOTES.txt").read_text()
        assert "kubectl --namespace inference rollout status deployment/layoutlmv3-triton" in notes
    assert "1.25, 1.26" in log and "1.37" in log


def test_rendered_objects(rendered):
    kinds = {name: sorted(d["kind"] for d in docs) for name, docs in rendered.items()}
    assert kinds["default"] == sorted(
        ["Deployment", "PodDisruptionBudget", "Service", "Service", "ServiceAccount", "Pod"]
    )
    assert kinds["gpu-autoscaling"] == sorted(
        [
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "Service",
            "ServiceAccount",
            "Pod",
            "HorizontalPodAutoscaler",
            "ConfigMap",
            "ConfigMap",
            "Ingress",
            "ServiceMonitor",
            "NetworkPolicy",
        ]
    )
    assert kinds["cpu-podmonitor-gcs"] == sorted(
        [
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "Service",
            "ServiceAccount",
            "Pod",
            "HorizontalPodAutoscaler",
            "ConfigMap",
            "PodMonitor",
        ]
    )
    assert kinds["cpu-s3-irsa"] == sorted(
        [
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "Service",
            "ServiceAccount",
            "Pod",
            "HorizontalPodAutoscaler",
            "ConfigMap",
            "NetworkPolicy",
        ]
    )
    assert kinds["gpu-ppocr"] == kinds["default"]
    assert not any(
        d["kind"] in ("Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
        for docs in rendered.values()
        for d in docs
    )


# --- the checkers catch what they are meant to catch -------------------------------------------


def test_kubernetes_validate_rejects_unknown_fields_and_removed_apis(rendered, tmp_path):
    docs = copy.deepcopy(rendered["gpu-autoscaling"])
    one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    one(docs, "HorizontalPodAutoscaler")["apiVersion"] = "autoscaling/v2beta2"  # removed in 1.26
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    problems = kv.check_kubernetes(bad, ("1.25", "1.37"))
    assert any("securityContxt" in p and "1.25" in p for p in problems), problems
    assert any("securityContxt" in p and "1.37" in p for p in problems), problems
    assert any("HorizontalPodAutoscaler" in p and "autoscaling/v2beta2" in p and "1.37" in p for p in problems)
    assert not any("ServiceMonitor" in p for p in problems)  # left to the CRD check


def test_crd_check_rejects_bad_and_unknown_fields(rendered):
    sm = copy.deepcopy(one(rendered["gpu-autoscaling"], "ServiceMonitor"))
    assert kv.check_monitoring([sm]) == []
    sm["spec"]["endpoints"][0]["interval"] = "fifteen seconds"
    sm["spec"]["endpoints"][0]["scheme"] = "ftp"
    sm["spec"]["endpoints"][0]["scrapeTimout"] = "10s"
    del sm["spec"]["selector"]
    problems = " ".join(kv.check_monitoring([sm]))
    for what in ("interval", "scheme", "selector"):
        assert what in problems
    pm = copy.deepcopy(one(rendered["cpu-podmonitor-gcs"], "PodMonitor"))
    assert kv.check_monitoring([pm]) == []
    pm["spec"]["podMetricsEndpoints"][0]["prot"] = "metrics"
    assert any("unknown field spec.podMetricsEndpoints[0].prot" in p for p in kv.check_monitoring([pm]))


def test_yamllint_runs_on_the_chart_and_kserve(tmp_path):
    assert kv.check_yamllint([CHART / "values.yaml", KSERVE]) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\na: 2\n")
    assert any("duplication" in p for p in kv.check_yamllint([bad]))


# --- what the objects say ---------------------------------------------------------------------


@pytest.mark.parametrize("name", SETS)
def test_security_context(rendered, name):
    pod, container = server(rendered[name])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 1000
    assert sc["readOnlyRootFilesystem"] is True
    # A read-only root: everything the server writes has a volume.
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/dev/shm", "/tmp", "/home/triton-server"} <= mounts
    # No API rights, no token.
    assert pod["automountServiceAccountToken"] is False
    account = one(rendered[name], "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    test_pod = one(rendered[name], "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert test_pod["spec"]["containers"][0]["securityContext"] == sc


@pytest.mark.parametrize("name", SETS)
def test_probes_on_triton_health_endpoints(rendered, name):
    _, container = server(rendered[name])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000, "grpc": 8001, "metrics": 8002}
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/v2/health/ready"
    # Long enough for model load and warm-up: at least the compose health check's 600 s.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600
    # Liveness must notice a dead python-backend stub, which /v2/health/live never does:
    # strict readiness (Triton 26.04+) or the command check (tests/functional/test_probes.py).
    live = container["livenessProbe"]
    if name in COMMAND_LIVENESS:
        assert live["exec"]["command"][:2] == ["python3", "-c"] and "httpGet" not in live
    else:
        assert live["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    # ...with a wider window than readiness, which gives a busy server (a 60 s queue
    # timeout) time before a restart.
    ready = container["readinessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 60
    assert live["periodSeconds"] * live["failureThreshold"] > ready["periodSeconds"] * ready["failureThreshold"]


@pytest.mark.parametrize("name", SETS)
def test_resources_whole_cores_and_shm(rendered, name):
    pod, container = server(rendered[name])
    res = container["resources"]
    assert res["requests"]["cpu"] == res["limits"]["cpu"]
    assert re.fullmatch(r"[1-9][0-9]*", str(res["requests"]["cpu"])), res  # whole cores
    assert res["requests"]["memory"] == res["limits"]["memory"]  # Guaranteed QoS
    (dshm,) = [v for v in pod["volumes"] if v["name"] == "dshm"]
    assert dshm["emptyDir"]["medium"] == "Memory"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]


def test_gpu_limits_and_toleration(rendered):
    pod, container = server(rendered["gpu-autoscaling"])
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    env = {e["name"]: e for e in container["env"]}
    assert env["NVIDIA_DRIVER_CAPABILITIES"]["value"] == "compute,utility"
    assert "--allow-gpu-metrics=true" in container["args"]
    for name in ("default", "cpu-podmonitor-gcs"):
        _, cpu = server(rendered[name])
        assert "nvidia.com/gpu" not in cpu["resources"]["limits"]
        assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in cpu["env"]
        assert "--allow-gpu-metrics=false" in cpu["args"]


def _compose_server_flags():
    compose = yaml.safe_load(COMPOSE.read_text())
    command = compose["services"]["layoutlmv3-triton-server"]["command"]
    return command[0], [a for a in command[1:] if not a.startswith(("--model-repository", "--allow-gpu-metrics"))]


@pytest.mark.parametrize("name", SETS)
def test_server_command_matches_the_compose_stack(rendered, name):
    _, container = server(rendered[name])
    wrapper, flags = _compose_server_flags()
    # args, not command: the image's entrypoint runs first, as under compose's `command`.
    assert "command" not in container
    assert container["args"][0] == wrapper == "layoutlmv3-tritonserver"
    for flag in flags:
        assert flag in container["args"], flag
    assert "--model-control-mode=none" in container["args"]
    assert sum(a.startswith("--model-repository=") for a in container["args"]) == 1
    # The image installs the wrapper under that name.
    assert "/usr/local/bin/layoutlmv3-tritonserver" in (REPO / "docker" / "server.Dockerfile").read_text()


def test_model_repository_sources(rendered):
    args = {name: server(docs)[1]["args"] for name, docs in rendered.items()}
    assert "--model-repository=/models" in args["default"]
    assert "--model-repository=s3://layoutlmv3-models/repository" in args["gpu-autoscaling"]
    assert "--model-repository=gs://layoutlmv3-models/repository" in args["cpu-podmonitor-gcs"]

    pod, container = server(rendered["default"])
    (repo,) = [v for v in pod["volumes"] if v["name"] == "model-repository"]
    assert repo["persistentVolumeClaim"] == {"claimName": "layoutlmv3-model-repository", "readOnly": True}
    assert {"name": "model-repository", "mountPath": "/models", "readOnly": True} in container["volumeMounts"]

    pod, container = server(rendered["gpu-autoscaling"])
    env = {e["name"]: e for e in container["env"]}
    for var, key in (("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"), ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")):
        assert env[var]["valueFrom"]["secretKeyRef"] == {"name": "layoutlmv3-s3", "key": key}
    assert env["TRITON_AWS_MOUNT_DIRECTORY"]["value"] == "/var/cache/model-repository"
    (repo,) = [v for v in pod["volumes"] if v["name"] == "model-repository"]
    assert "emptyDir" in repo

    # GCS through Workload Identity: no key file that would win over the annotation.
    pod, container = server(rendered["cpu-podmonitor-gcs"])
    env = {e["name"]: e for e in container["env"]}
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in env
    assert not [v for v in pod["volumes"] if v["name"] == "gcs-credentials"]
    account = one(rendered["cpu-podmonitor-gcs"], "ServiceAccount")
    assert "iam.gke.io/gcp-service-account" in account["metadata"]["annotations"]
    # GCS with a key Secret (and no Workload Identity): the key file is mounted and named.
    deployment = _deployment(
        _render(
            {
                "modelRepository": {
                    "source": "gcs",
                    "gcs": {"url": "gs://b/r", "credentialsSecret": "layoutlmv3-gcs-key"},
                }
            }
        )
    )
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["GOOGLE_APPLICATION_CREDENTIALS"]["value"] == "/var/run/secrets/gcs/credentials.json"
    (secret,) = [v for v in pod["volumes"] if v["name"] == "gcs-credentials"]
    assert secret["secret"]["secretName"] == "layoutlmv3-gcs-key"
    # S3 through IRSA: no keys, the region set.
    _, container = server(rendered["cpu-s3-irsa"])
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_DEFAULT_REGION"]["value"] == "eu-central-1" and "AWS_ACCESS_KEY_ID" not in env
    assert not any(
        "value" in e and "SECRET" in e["name"] for docs in rendered.values() for e in server(docs)[1]["env"]
    )  # no secret inline


def test_admin_key_from_a_secret(rendered):
    _, container = server(rendered["gpu-autoscaling"])
    (key,) = [e for e in container["env"] if e["name"] == "TRITON_ADMIN_KEY"]
    assert key["valueFrom"]["secretKeyRef"] == {"name": "layoutlmv3-admin-key", "key": "admin-key", "optional": False}
    # Without a Secret the wrapper locks the admin APIs with a random key.
    _, default = server(rendered["default"])
    assert not [e for e in default["env"] if e["name"] == "TRITON_ADMIN_KEY"]


@pytest.mark.parametrize("name", SETS)
def test_every_set_preloads_the_allocator(rendered, name):
    """The rendered pods preload local/allocator.py's library (test_allocator checks the
    values.yaml text against the image and compose)."""
    _, container = server(rendered[name])
    preload = [e for e in container["env"] if e["name"] == "LD_PRELOAD"]
    assert preload == [{"name": "LD_PRELOAD", "value": ALLOCATOR_LIBRARY}]


def test_extra_env_replaces_a_default_of_the_same_name():
    out = _render(
        {
            "extraEnv": [
                {"name": "LD_PRELOAD", "value": "libtcmalloc_minimal.so.4"},
                {"name": "OMP_NUM_THREADS", "value": "1"},
            ]
        }
    )
    (deployment,) = [d for d in yaml.safe_load_all(out["layoutlmv3-triton/templates/deployment.yaml"]) if d]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert [e for e in env if e["name"] == "LD_PRELOAD"] == [
        {"name": "LD_PRELOAD", "value": "libtcmalloc_minimal.so.4"}
    ]
    assert env[-1] == {"name": "OMP_NUM_THREADS", "value": "1"}


def _release_pin():
    return re.search(r"^TRITON_RELEASE=(\S+)$", (REPO / ".env").read_text(), re.M).group(1)


def test_image_tag_is_the_release_pin(rendered):
    """One pin: the chart's appVersion (the default tag), every values set's tag and the KServe
    example's image follow TRITON_RELEASE in .env."""
    release = _release_pin()
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"] == release
    for name, docs in rendered.items():
        _, container = server(docs)
        assert container["image"].endswith(f":{release}"), (name, container["image"])
    for path in (CHART / "ci").glob("*-values.yaml"):
        tag = (yaml.safe_load(path.read_text()).get("image") or {}).get("tag")
        assert tag in (None, "", release), path
    (container,) = [d for d in yaml.safe_load_all(KSERVE.read_text()) if d][0]["spec"]["containers"]
    assert container["image"].rsplit(":", 1)[1] == release


@pytest.mark.parametrize("name", SETS)
def test_python_backend_shm_regions_are_sized_from_the_contract(rendered, name):
    """One chart value feeds the launcher's TRITON_PYTHON_SHM_* and equals build/python_backend.py."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert (
        values["shm"]["pythonRegionBytes"]
        == python_backend.SHM_DEFAULT_BYTE_SIZE
        == python_backend.SHM_GROWTH_BYTE_SIZE
    )
    _, container = server(rendered[name])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TRITON_PYTHON_SHM_DEFAULT_BYTES"] == str(python_backend.SHM_DEFAULT_BYTE_SIZE)
    assert env["TRITON_PYTHON_SHM_GROWTH_BYTES"] == str(python_backend.SHM_GROWTH_BYTE_SIZE)


def _quantity_bytes(quantity):
    number, unit = re.fullmatch(r"([0-9]+)(Ki|Mi|Gi|Ti)?", str(quantity)).groups()
    return int(number) << {None: 0, "Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40}[unit]


def worst_case_shm_bytes(preprocess_instances, options=ServingOptions()):
    """/dev/shm when every python-backend region has grown to its worst case: a preprocess
    instance executing a full batch of requests, each with the largest response (max_windows
    windows) and the largest document still mapped; postprocess batches (at most max_windows
    rows of logits) fit the start size.  Regions grow from the start size in whole steps."""
    limits = options.preprocess.limits
    batch = options.max_batch_size
    need = batch * (python_backend.preprocess_response_bytes(limits.max_windows) + limits.max_request_bytes)
    start, step = python_backend.SHM_DEFAULT_BYTE_SIZE, python_backend.SHM_GROWTH_BYTE_SIZE
    preprocess_region = start + max(0, -(-(need - start) // step)) * step
    return preprocess_instances * preprocess_region + options.postprocess_instances * start


def test_worst_case_shm_figures():
    """The figures values.yaml, the README and docs/capacity.md quote."""
    mib = python_backend.MIB
    assert worst_case_shm_bytes(1) == 576 * mib
    assert worst_case_shm_bytes(ServingOptions().preprocess_instances) == 1088 * mib
    assert worst_case_shm_bytes(4) == 2112 * mib and worst_case_shm_bytes(8) == 4160 * mib


@pytest.mark.parametrize("name", SETS)
def test_shm_size_limit_covers_the_worst_case(rendered, name):
    """Up to one preprocess instance per requested core (never fewer than build-repo's default)."""
    pod, container = server(rendered[name])
    (dshm,) = [v for v in pod["volumes"] if v["name"] == "dshm"]
    cores = int(container["resources"]["requests"]["cpu"])
    worst = worst_case_shm_bytes(max(cores, ServingOptions().preprocess_instances))
    assert _quantity_bytes(dshm["emptyDir"]["sizeLimit"]) >= worst, (name, worst >> 20)
    assert _quantity_bytes(container["resources"]["limits"]["memory"]) > worst


@pytest.mark.parametrize("name", SETS)
def test_trt_engine_cache_has_a_writable_volume(rendered, name):
    pod, container = server(rendered[name])
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "trt-engine-cache", "mountPath": ORT_TRT_ENGINE_CACHE} in container["volumeMounts"]
    (cache,) = [v for v in pod["volumes"] if v["name"] == "trt-engine-cache"]
    assert cache == {"name": "trt-engine-cache", "emptyDir": {"sizeLimit": "4Gi"}}
    # The image creates the directory for its user, so an image-only run writes there too.
    assert ORT_TRT_ENGINE_CACHE in (REPO / "docker" / "server.Dockerfile").read_text()


def test_trt_engine_cache_on_a_claim():
    deployment = _deployment(_render({"trtEngineCache": {"existingClaim": "trt-engines"}}))
    (cache,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "trt-engine-cache"]
    assert cache == {"name": "trt-engine-cache", "persistentVolumeClaim": {"claimName": "trt-engines"}}


def test_notes_name_the_admin_header_of_each_protocol(validated):
    """`admin-key` is the HTTP header only; over gRPC tritonserver expects the prefixed name."""
    out, _ = validated
    notes = (out / "gpu-autoscaling.NOTES.txt").read_text()
    assert re.search(r'HTTP: header "admin-key: <key>"', notes)
    assert re.search(r'gRPC: metadata "triton-grpc-protocol-admin-key: <key>"', notes)
    assert not re.search(r'gRPC[^\n]*"admin-key', notes)


def test_hpa_on_the_adapter_queue_metric(rendered):
    docs = rendered["gpu-autoscaling"]
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": one(docs, "Deployment")["metadata"]["name"],
    }
    queue, pending = hpa["spec"]["metrics"]
    assert queue["type"] == pending["type"] == "Pods"
    assert queue["pods"]["metric"]["name"] == "layoutlmv3_queue_ms_per_document"
    assert queue["pods"]["target"] == {"type": "AverageValue", "averageValue": "200"}
    # The faster second signal: requests waiting in the steps' queues.
    assert pending["pods"]["metric"]["name"] == "layoutlmv3_pending_requests"
    assert pending["pods"]["target"] == {"type": "AverageValue", "averageValue": "4"}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    # The HPA owns the replica count.
    assert "replicas" not in one(docs, "Deployment")["spec"]
    assert one(rendered["default"], "Deployment")["spec"]["replicas"] == 2

    cpu_hpa = one(rendered["cpu-podmonitor-gcs"], "HorizontalPodAutoscaler")
    assert [m["type"] for m in cpu_hpa["spec"]["metrics"]] == ["Pods", "Pods", "Resource"]
    # null turns the second signal off.
    off = _docs(_render({"autoscaling": {"enabled": True, "targetPendingRequests": None}}), "hpa.yaml")
    assert [m["pods"]["metric"]["name"] for m in off[0]["spec"]["metrics"]] == ["layoutlmv3_queue_ms_per_document"]


def _adapter_rules(docs):
    cm = one(docs, "ConfigMap", "-prometheus-adapter-rules")
    chart_values = yaml.safe_load(cm["data"]["values.yaml"])
    config = yaml.safe_load(cm["data"]["config.yaml"])
    assert chart_values["rules"]["custom"] == config["rules"]
    return config["rules"]


def test_adapter_rule_serves_the_hpa_metric(rendered):
    docs = rendered["gpu-autoscaling"]
    rule, pending = _adapter_rules(docs)
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert [rule["name"]["as"], pending["name"]["as"]] == [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"]]
    assert re.fullmatch(rule["name"]["matches"], "nv_inference_request_success")
    assert rule["resources"]["overrides"] == {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
    query = rule["metricsQuery"]
    for placeholder in ("<<.LabelMatchers>>", "<<.GroupBy>>"):
        assert placeholder in query
    # The queue builds up in front of the steps (the ensemble itself has none), per document.
    assert "rate(nv_inference_queue_duration_us{" in query
    assert "delta(" not in query  # counters: rate() handles restarts
    steps = re.search(r'model=~"layoutlmv3_\(([a-z|]+)\)"', query).group(1).split("|")
    assert {f"layoutlmv3_{s}" for s in steps} == {contract.PREPROCESS, contract.MODEL, contract.POSTPROCESS}
    assert f'model="{contract.ENSEMBLE}"' in query and f'model="{contract.ENSEMBLE}"' in rule["seriesQuery"]
    # Per finished document, success or failure: a step adds its queue time only when it
    # succeeds, so with successes alone a failing later step would blow the ratio up.  One
    # selector for both counters: a missing failure series must not empty the sum.
    assert '{__name__=~"nv_inference_request_(success|failure)",' in query
    # Counters and the gauge of Triton's /metrics (docs/user_guide/metrics.md; per model, per request).
    names = set(re.findall(r"\b(nv_[a-z_]+)\{", rule["seriesQuery"] + " " + query))
    assert names == {"nv_inference_queue_duration_us", "nv_inference_request_success"}
    # The second rule: the steps' pending requests, averaged over two scrapes.
    assert re.fullmatch(pending["name"]["matches"], "nv_inference_pending_request_count")
    assert pending["resources"] == rule["resources"]
    assert "avg_over_time(nv_inference_pending_request_count{<<.LabelMatchers>>," in pending["metricsQuery"]
    assert steps == re.search(r'model=~"layoutlmv3_\(([a-z|]+)\)"', pending["metricsQuery"]).group(1).split("|")


def test_adapter_rule_is_valid_promql(rendered):
    promql = pytest.importorskip("promql_parser")
    for rule in _adapter_rules(rendered["gpu-autoscaling"]):
        # What prometheus-adapter substitutes for one HPA query over two pods.
        query = (
            rule["metricsQuery"]
            .replace("<<.LabelMatchers>>", 'namespace="inference",pod=~"a|b"')
            .replace("<<.GroupBy>>", "pod")
        )
        promql.parse(query)
        promql.parse(rule["seriesQuery"])


def test_pod_disruption_budget(rendered):
    for _name, docs in rendered.items():
        pdb = one(docs, "PodDisruptionBudget")
        assert pdb["apiVersion"] == "policy/v1"
        labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert one(rendered["default"], "PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
        "selector": one(rendered["default"], "PodDisruptionBudget")["spec"]["selector"],
    }
    assert one(rendered["cpu-podmonitor-gcs"], "PodDisruptionBudget")["spec"]["minAvailable"] == 2


def test_services_and_monitoring(rendered):
    docs = rendered["gpu-autoscaling"]
    main = one(docs, "Service", "-triton")
    assert {p["name"] for p in main["spec"]["ports"]} == {"http", "grpc"}  # no metrics for clients
    headless = one(docs, "Service", "-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert "metrics" in {p["name"] for p in headless["spec"]["ports"]}
    sm = one(docs, "ServiceMonitor")
    assert sm["spec"]["selector"]["matchLabels"].items() <= headless["metadata"]["labels"].items()
    assert not sm["spec"]["selector"]["matchLabels"].items() <= main["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] == "metrics" and sm["spec"]["endpoints"][0]["path"] == "/metrics"
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    pm = one(rendered["cpu-podmonitor-gcs"], "PodMonitor")
    pod_labels = one(rendered["cpu-podmonitor-gcs"], "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pm["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pm["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    ingress = one(docs, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": main["metadata"]["name"], "port": {"name": "http"}}


def test_grafana_dashboard_configmap(rendered):
    cm = one(rendered["gpu-autoscaling"], "ConfigMap", "-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["layoutlmv3-triton.json"])
    source = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "layoutlmv3-triton.json").read_text())
    assert dashboard == source


def test_chart_dashboard_is_a_copy_of_the_compose_one():
    """Helm reads no file outside the chart: the chart keeps a copy, which must not drift."""
    source = REPO / "deploy" / "grafana" / "dashboards" / "layoutlmv3-triton.json"
    copy_ = CHART / "dashboards" / "layoutlmv3-triton.json"
    assert not copy_.is_symlink()
    assert (
        copy_.read_bytes() == source.read_bytes()
    ), "cp deploy/grafana/dashboards/layoutlmv3-triton.json deploy/helm/layoutlmv3-triton/dashboards/"


# --- bad values fail at install time ------------------------------------------------------------


def _render(values, kube_version=None):
    with helm_python.Chart.load(str(CHART)) as chart:
        return kv.render_manifests(chart, values, kube_version)


def _docs(out, template):
    return [d for d in yaml.safe_load_all(out.get(f"layoutlmv3-triton/templates/{template}", "")) if d]


def _deployment(out):
    (deployment,) = _docs(out, "deployment.yaml")
    return deployment


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"resources": {"requests": {"cpu": "1500m", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}},
            "cpu",
        ),
        ({"replicaCount": 0}, "replicaCount"),
        ({"gpu": {"count": -1}}, "count"),
        ({"imagTag": "x"}, "imagTag"),
        ({"modelRepository": {"source": "s3"}}, "s3"),
        ({"modelRepository": {"source": "s3", "s3": {"url": "https://bucket/path"}}}, "url"),
        ({"modelRepository": {"source": "nfs"}}, "source"),
        ({"probes": {"readiness": {"httpGet": {"path": "/healthz", "port": "http"}}}}, "path"),
        # Liveness is chosen by `check`, never a raw probe (/v2/health/live misses dead stubs).
        ({"probes": {"liveness": {"check": "live"}}}, "check"),
        ({"probes": {"liveness": {"httpGet": {"path": "/v2/health/live", "port": "http"}}}}, "httpGet"),
        ({"networkPolicy": {"clients": [{}]}}, "clients"),
        ({"securityContext": {"allowPrivilegeEscalation": True}}, "allowPrivilegeEscalation"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
        # The OCR engines build-repo knows, or "" (as built).
        ({"modelRepository": {"ocrEngine": "paddleocr"}}, "ocrEngine"),
        ({"modelRepository": {"ocrEngine": "PPOCR"}}, "ocrEngine"),
    ],
)
def test_schema_rejects_bad_values(values, message):
    with pytest.raises(helm_python.HelmError) as excinfo:
        _render(values)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"server": {"extraArgs": ["--model-control-mode=explicit"]}}, "--model-control-mode is set by the chart"),
        # The wrapper's python-backend shared memory, the chart's metrics flags.
        (
            {"server": {"extraArgs": ["--backend-config=python,shm-default-byte-size=1"]}},
            "--backend-config is set by the chart",
        ),
        ({"server": {"extraArgs": ["--allow-gpu-metrics=true"]}}, "--allow-gpu-metrics is set by the chart"),
        ({"server": {"extraArgs": ["--metrics-interval-ms=500"]}}, "--metrics-interval-ms is set by the chart"),
        ({"server": {"extraArgs": ["--grpc-max-connection-age=1"]}}, "--grpc-max-connection-age is set by the chart"),
        # Shutdown: the exit timeout covers the steps' queue timeout, the grace period covers both waits.
        (
            {"server": {"exitTimeoutSeconds": 30}, "terminationGracePeriodSeconds": 90},
            "server.exitTimeoutSeconds (30) must cover server.stepQueueTimeoutSeconds (60)",
        ),
        (
            {"terminationGracePeriodSeconds": 60},
            "terminationGracePeriodSeconds (60) must be at least preStopSleepSeconds",
        ),
        # A PDB that blocks every drain.
        (
            {"podDisruptionBudget": {"maxUnavailable": "", "minAvailable": 2}},
            "minAvailable (2) must be below replicaCount (2)",
        ),
        (
            {
                "podDisruptionBudget": {"maxUnavailable": "", "minAvailable": 3},
                "autoscaling": {"enabled": True, "minReplicas": 3},
            },
            "minAvailable (3) must be below autoscaling.minReplicas (3)",
        ),
        ({"podDisruptionBudget": {"maxUnavailable": "", "minAvailable": "100%"}}, "100% would block every node drain"),
        # Credentials: one source each; keyless S3 needs the region.
        (
            {
                "modelRepository": {"source": "gcs", "gcs": {"url": "gs://b/r", "credentialsSecret": "key"}},
                "serviceAccount": {"annotations": {"iam.gke.io/gcp-service-account": "a@p.iam.gserviceaccount.com"}},
            },
            "the key file would win",
        ),
        ({"modelRepository": {"source": "s3", "s3": {"url": "s3://b/r"}}}, "modelRepository.s3.region is required"),
        # Liveness on strict readiness needs a release that reports dead stubs there.
        ({"image": {"tag": "25.10"}}, "probes.liveness.check=ready needs Triton 26.04 or later"),
        ({"autoscaling": {"enabled": True, "pendingMetricName": "nope"}}, "autoscaling.pendingMetricName"),
        (
            {
                "networkPolicy": {"enabled": True, "objectStore": []},
                "modelRepository": {"source": "s3", "s3": {"url": "s3://b/r", "region": "eu-west-1"}},
            },
            "networkPolicy.objectStore is empty",
        ),
        ({"resources": {"requests": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": 1}}}, "gpu.count"),
        ({"podDisruptionBudget": {"maxUnavailable": 1, "minAvailable": 1}}, "not both"),
        ({"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}, "minReplicas"),
        ({"autoscaling": {"enabled": True, "metricName": "something_else"}}, "not served"),
        ({"monitoring": {"serviceMonitor": {"enabled": True}, "podMonitor": {"enabled": True}}}, "not both"),
        ({"ingress": {"enabled": True}}, "ingress.hosts"),
    ],
)
def test_templates_reject_inconsistent_values(values, message):
    with pytest.raises(helm_python.HelmError) as excinfo:
        _render(values)
    assert message in str(excinfo.value)


def test_values_schema_is_draft7():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    # The schema and values.yaml agree: every top-level key is described, and vice versa.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values) == set(schema["properties"]) - {"global"}


def test_values_files_pass_the_schema():
    with helm_python.Chart.load(str(CHART)) as chart:
        for path in sorted((CHART / "ci").glob("*-values.yaml")):
            chart.validate_schema(kv.load_values(path))
        chart.validate_schema(chart.values)


# --- KServe example ----------------------------------------------------------------------------


def test_kserve_example():
    runtime, isvc = [d for d in yaml.safe_load_all(KSERVE.read_text()) if d]
    assert (runtime["apiVersion"], runtime["kind"]) == ("serving.kserve.io/v1alpha1", "ServingRuntime")
    assert (isvc["apiVersion"], isvc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    (container,) = runtime["spec"]["containers"]
    assert container["name"] == "kserve-container"
    wrapper, flags = _compose_server_flags()
    assert "command" not in container and container["args"][0] == wrapper
    for flag in flags:
        assert flag in container["args"]
    assert "--model-repository=/mnt/models" in container["args"]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] and sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "layoutlmv3-admin-key"
    assert runtime["spec"]["volumes"][0]["emptyDir"]["medium"] == "Memory"
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] == runtime["spec"]["supportedModelFormats"][0]["name"]
    assert model["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # Liveness on strict readiness (26.04+ reports a dead python-backend stub there; the image
    # is 26.11), with a wider window than readiness.
    live, ready = container["livenessProbe"], container["readinessProbe"]
    assert live["httpGet"] == {"path": "/v2/health/ready", "port": 8080}
    assert live["periodSeconds"] * live["failureThreshold"] > ready["periodSeconds"] * ready["failureThreshold"]
    # gRPC on 9000 is a declared port: KServe's raw-mode Service gets one port per container
    # port, appProtocol h2c for names containing "grpc".
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "grpc": 9000}
    assert "--grpc-port=9000" in container["args"] and "--http-port=8080" in container["args"]
    # Shutdown as the chart requires it.
    assert "--exit-timeout-secs=75" in container["args"]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "10"]
    assert isvc["spec"]["predictor"]["terminationGracePeriodSeconds"] >= 10 + 75
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "external"


def test_kserve_hpa_is_the_charts_with_its_scale_target():
    """deploy/kserve ships the chart's HPA aimed at KServe's predictor Deployment, and the
    chart's adapter rules: one source, no drift."""
    (_, isvc), (hpa,) = ([d for d in yaml.safe_load_all(path.read_text()) if d] for path in (KSERVE, KSERVE_HPA))
    predictor = isvc["spec"]["predictor"]
    values = {
        "autoscaling": {
            "enabled": True,
            "minReplicas": predictor["minReplicas"],
            "maxReplicas": predictor["maxReplicas"],
            "scaleTargetRef": {"name": f"{isvc['metadata']['name']}-predictor"},
        }
    }
    (chart_hpa,) = _docs(_render(values), "hpa.yaml")
    assert hpa["spec"] == chart_hpa["spec"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "layoutlmv3-predictor",
    }
    chart_rules = yaml.safe_load((CHART / "values.yaml").read_text())["autoscaling"]["prometheusAdapter"]["rules"]
    assert yaml.safe_load(KSERVE_ADAPTER.read_text()) == {"rules": {"custom": chart_rules}}


def test_kserve_hpa_passes_kubernetes_validate():
    assert kv.check_kubernetes(KSERVE_HPA, ("1.25", "1.37")) == []


# --- issue #26, item by item: the rendered objects ---------------------------------------------


@pytest.mark.parametrize("name", SETS)
def test_progress_deadline_covers_the_startup_budget(rendered, name):
    """2. A rollout is not marked failed while a pod is still inside its startup budget."""
    deployment = one(rendered[name], "Deployment")
    startup = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    budget = startup.get("initialDelaySeconds", 0) + startup["periodSeconds"] * startup["failureThreshold"]
    margin = yaml.safe_load((CHART / "values.yaml").read_text())["progressDeadlineMarginSeconds"]
    assert deployment["spec"]["progressDeadlineSeconds"] == budget + margin
    assert deployment["spec"]["progressDeadlineSeconds"] > 600  # Kubernetes' default would fail the rollout


def test_progress_deadline_follows_the_gpu_startup_budget(rendered, validated):
    out, _ = validated
    deployment = one(rendered["gpu-autoscaling"], "Deployment")
    assert deployment["spec"]["progressDeadlineSeconds"] == 90 * 10 + 600
    # NOTES waits as long as the Deployment does.
    assert (
        "rollout status deployment/layoutlmv3-triton --timeout=1500s" in (out / "gpu-autoscaling.NOTES.txt").read_text()
    )


@pytest.mark.parametrize("name", SETS)
def test_test_pod_needs_no_gpu_and_is_not_selected(rendered, name):
    """3. `helm test` schedules on any node (no GPU selector without its toleration), and no
    selector of the release counts it."""
    test_pod = one(rendered[name], "Pod")
    spec = test_pod["spec"]
    assert "nodeSelector" not in spec and "tolerations" not in spec and "affinity" not in spec
    assert "nvidia.com/gpu" not in json.dumps(spec["containers"][0]["resources"])
    labels = test_pod["metadata"]["labels"]
    deployment = one(rendered[name], "Deployment")
    selectors = [
        deployment["spec"]["selector"]["matchLabels"],
        one(rendered[name], "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    ]
    selectors += [s["spec"]["selector"] for s in rendered[name] if s["kind"] == "Service"]
    selectors += [
        c["labelSelector"]["matchLabels"]
        for c in deployment["spec"]["template"]["spec"].get("topologySpreadConstraints", [])
    ]
    for selector in selectors:
        assert not selector.items() <= labels.items(), selector
    assert (
        deployment["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )


def test_gpu_test_pod_keeps_off_the_server_placement(rendered):
    pod, _ = server(rendered["gpu-autoscaling"])
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}  # the server keeps it
    # Placement and image of the test pod are its own values.
    (test_pod,) = _docs(
        _render(
            {
                "tests": {
                    "image": "python:3.12-slim",
                    "nodeSelector": {"pool": "cpu"},
                    "tolerations": [{"key": "dedicated", "operator": "Exists"}],
                },
                "nodeSelector": {"nvidia.com/gpu.present": "true"},
            }
        ),
        "tests/test-ready.yaml",
    )
    assert test_pod["spec"]["nodeSelector"] == {"pool": "cpu"}
    assert test_pod["spec"]["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert test_pod["spec"]["containers"][0]["image"] == "python:3.12-slim"


def test_hpa_scale_target_override():
    """4. The chart's HPA can scale another workload (KServe's predictor)."""
    (hpa,) = _docs(
        _render(
            {
                "autoscaling": {
                    "enabled": True,
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "layoutlmv3-predictor"},
                }
            }
        ),
        "hpa.yaml",
    )
    assert hpa["spec"]["scaleTargetRef"]["name"] == "layoutlmv3-predictor"


def test_network_policy(rendered):
    """5. Inference from the allowed clients, the ingress controller and `helm test`;
    metrics from monitoring; egress to DNS and the bucket only."""
    docs = rendered["gpu-autoscaling"]
    policy = one(docs, "NetworkPolicy")["spec"]
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    inference, metrics = policy["ingress"]
    assert inference["ports"] == [{"port": "http", "protocol": "TCP"}, {"port": "grpc", "protocol": "TCP"}]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "document-pipeline"}}} in inference[
        "from"
    ]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in inference["from"]
    test_labels = one(docs, "Pod")["metadata"]["labels"]
    (test_peer,) = [p for p in inference["from"] if "podSelector" in p and "namespaceSelector" not in p]
    assert test_peer["podSelector"]["matchLabels"].items() <= test_labels.items()
    assert metrics == {
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"port": "metrics", "protocol": "TCP"}],
    }
    dns, store = policy["egress"]
    assert {p["port"] for p in dns["ports"]} == {53} and {p["protocol"] for p in dns["ports"]} == {"UDP", "TCP"}
    assert store["ports"] == [{"port": 443, "protocol": "TCP"}]  # the repository is on S3
    # Named ports exist on the container.
    _, container = server(docs)
    assert {"http", "grpc", "metrics"} <= {p["name"] for p in container["ports"]}
    # Without ingress the controller is not let in; a PVC repository needs no egress but DNS.
    irsa = one(rendered["cpu-s3-irsa"], "NetworkPolicy")["spec"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} not in irsa[
        "ingress"
    ][0]["from"]
    (pvc,) = _docs(_render({"networkPolicy": {"enabled": True}}), "networkpolicy.yaml")
    assert [rule["ports"][0]["port"] for rule in pvc["spec"]["egress"]] == [53]
    assert not [d for d in rendered["default"] if d["kind"] == "NetworkPolicy"]  # optional


def test_network_policy_port_of_an_s3_compatible_store():
    (policy,) = _docs(
        _render(
            {
                "networkPolicy": {
                    "enabled": True,
                    "objectStore": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "storage"}}}],
                },
                "modelRepository": {
                    "source": "s3",
                    "s3": {"url": "s3://https://minio.storage.svc:9000/models/repo", "credentialsSecret": "minio"},
                },
            }
        ),
        "networkpolicy.yaml",
    )
    store = policy["spec"]["egress"][1]
    assert store["ports"] == [{"port": 9000, "protocol": "TCP"}]
    assert store["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "storage"}}}]


def test_network_policy_empty_lists_allow_nothing():
    """An empty peer list must drop its rule: a rule with no `from`/`to` would allow everyone."""
    (policy,) = _docs(
        _render(
            {
                "networkPolicy": {"enabled": True, "clients": [], "monitoring": [], "dns": []},
                "tests": {"enabled": False},
            }
        ),
        "networkpolicy.yaml",
    )
    assert policy["spec"]["ingress"] == [] and policy["spec"]["egress"] == []
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    # extraEgress rules are added as they are, after DNS.
    metadata = {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"port": 80, "protocol": "TCP"}]}
    (policy,) = _docs(_render({"networkPolicy": {"enabled": True, "extraEgress": [metadata]}}), "networkpolicy.yaml")
    assert policy["spec"]["egress"][-1] == metadata and len(policy["spec"]["egress"]) == 2


@pytest.mark.parametrize("name", SETS)
def test_grpc_connections_are_rebalanced(rendered, name):
    """6. Pinned gRPC connections: Triton closes connections older than two minutes (in-flight
    calls get the exit timeout), so clients reconnect through the Service and reach new
    replicas (tests/functional/test_probes.py shows the reconnect on a real server)."""
    _, container = server(rendered[name])
    assert "--grpc-max-connection-age=120000" in container["args"]
    assert "--grpc-max-connection-age-grace=75000" in container["args"]
    off = _deployment(_render({"server": {"grpcMaxConnectionAgeSeconds": 0}}))
    assert not [a for a in off["spec"]["template"]["spec"]["containers"][0]["args"] if "max-connection-age" in a]


def test_pdb_unhealthy_pod_eviction_policy_by_kube_version(tmp_path):
    """7. AlwaysAllow only where the API server knows the field (1.27+), which Kubernetes 1.25's
    schema would reject."""
    old = _docs(_render(None, "1.26"), "pdb.yaml")[0]
    new = _docs(_render(None, "1.27"), "pdb.yaml")[0]
    assert "unhealthyPodEvictionPolicy" not in old["spec"]
    assert new["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    bad = tmp_path / "pdb.yaml"
    bad.write_text(yaml.safe_dump(new))
    assert any("unhealthyPodEvictionPolicy" in p for p in kv.check_kubernetes(bad, ("1.25",)))
    assert kv.check_kubernetes(bad, ("1.27", "1.37")) == []
    unset = _docs(_render({"podDisruptionBudget": {"unhealthyPodEvictionPolicy": ""}}, "1.30"), "pdb.yaml")[0]
    assert "unhealthyPodEvictionPolicy" not in unset["spec"]


def test_older_kubernetes_renderings_are_validated(validated):
    out, log = validated
    for name in SETS:
        assert f"rendered [{name}] for Kubernetes 1.25, 1.26 -> " in log
        older = [d for d in yaml.safe_load_all((out / f"{name}.k8s-1.25-1.26.yaml").read_text()) if d]
        assert "unhealthyPodEvictionPolicy" not in one(older, "PodDisruptionBudget")["spec"]


@pytest.mark.parametrize("name", SETS)
def test_shutdown_waits_cover_each_other(rendered, name):
    """7. Grace period >= preStop sleep + Triton's exit timeout >= the steps' queue timeout."""
    pod, container = server(rendered[name])
    sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    exit_timeout = int(next(a for a in container["args"] if a.startswith("--exit-timeout-secs=")).split("=")[1])
    assert pod["terminationGracePeriodSeconds"] >= sleep + exit_timeout
    assert exit_timeout >= ServingOptions().queue_timeout_us / 1e6


def test_step_queue_timeout_value_is_build_repos():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["server"]["stepQueueTimeoutSeconds"] * 1_000_000 == ServingOptions().queue_timeout_us


def test_cuda_cache_on_its_own_sized_volume(rendered):
    """8. CUDA's JIT cache, capped, on an emptyDir larger than the cap (not the 256Mi home)."""
    pod, container = server(rendered["gpu-autoscaling"])
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CUDA_CACHE_PATH"] == "/var/cache/layoutlmv3/cuda"
    assert {"name": "cuda-cache", "mountPath": env["CUDA_CACHE_PATH"]} in container["volumeMounts"]
    (cache,) = [v for v in pod["volumes"] if v["name"] == "cuda-cache"]
    assert _quantity_bytes(cache["emptyDir"]["sizeLimit"]) > int(env["CUDA_CACHE_MAXSIZE"]) == 1 << 30
    (home,) = [v for v in pod["volumes"] if v["name"] == "home"]
    assert _quantity_bytes(home["emptyDir"]["sizeLimit"]) < int(env["CUDA_CACHE_MAXSIZE"])
    _, cpu = server(rendered["default"])
    assert not [e for e in cpu["env"] if e["name"].startswith("CUDA_CACHE")]


def test_liveness_check_models_command():
    """1. The command check for images before 26.04: python3 with the stdlib, the chart's HTTP
    port and every model of the contract (tests/functional/test_probes.py runs it)."""
    deployment = _deployment(_render({"probes": {"liveness": {"check": "models"}}, "image": {"tag": "25.10"}}))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    command = container["livenessProbe"]["exec"]["command"]
    assert command[:2] == ["python3", "-c"]
    assert command[3] == "8000" and "--http-port=8000" in container["args"]
    assert tuple(command[4:]) == contract.ALL_MODELS
    assert "import layoutlmv3_triton" not in command[2]  # any image: the standard library only
    compile(command[2], "liveness", "exec")


# --- the ppocr engine's models (modelRepository.ocrEngine) -------------------------------------


def _test_pod_models(test_pod):
    """The models the `helm test` pod asks for, read from its python3 script."""
    (container,) = test_pod["spec"]["containers"]
    assert container["args"][:2] == ["python3", "-c"]
    script = container["args"][2]
    compile(script, "test-ready", "exec")
    return tuple(json.loads(re.search(r"^models = (\[.*\])$", script, re.M).group(1)))


def _served_models(engine):
    return contract.ALL_MODELS + (contract.OCR_MODELS if engine == "ppocr" else ())


def test_ocr_models_helper_is_the_contracts():
    """One list of OCR model names in the chart, a helper, equal to contract.OCR_MODELS; the
    engines the schema accepts are contract.OCR_ENGINES (or "", as built)."""
    text = (CHART / "templates" / "_liveness.tpl").read_text()
    helper = re.search(r'\{\{- define "layoutlmv3-triton\.ocrModels" -\}\}\n(.*)\n\{\{- end \}\}', text).group(1)
    assert tuple(helper.split()) == contract.OCR_MODELS
    templates = "".join(path.read_text() for path in (CHART / "templates").rglob("*") if path.is_file())
    for name in contract.OCR_MODELS:
        assert templates.count(name) == 1, name  # nowhere but the helper
    schema = json.loads((CHART / "values.schema.json").read_text())
    engine = schema["properties"]["modelRepository"]["properties"]["ocrEngine"]
    assert tuple(engine["enum"]) == ("", *contract.OCR_ENGINES)
    assert yaml.safe_load((CHART / "values.yaml").read_text())["modelRepository"]["ocrEngine"] == ""


@pytest.mark.parametrize("engine", ["", "tesseract", "ppocr"])
def test_probe_and_test_pod_models_follow_the_ocr_engine(engine):
    """With ppocr the command liveness check and `helm test` also ask for the OCR models; with
    tesseract or "" (as built) they ask for the ensemble's four models only."""
    out = _render(
        {
            "modelRepository": {"ocrEngine": engine},
            "probes": {"liveness": {"check": "models"}},
            "image": {"tag": "25.10"},
        }
    )
    command = _deployment(out)["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"]
    assert tuple(command[4:]) == _served_models(engine)
    (test_pod,) = _docs(out, "tests/test-ready.yaml")
    assert _test_pod_models(test_pod) == _served_models(engine)
    # Readiness and the default liveness stay on strict /v2/health/ready, which covers every
    # loaded model whatever the engine.
    container = _deployment(_render({"modelRepository": {"ocrEngine": engine}}))["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["livenessProbe"]["httpGet"] == container["readinessProbe"]["httpGet"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}


@pytest.mark.parametrize("name", SETS)
def test_rendered_sets_name_the_ocr_models_only_with_ppocr(rendered, name):
    """`make k8s-validate`'s gpu-ppocr set: a GPU replica whose repository reads with ppocr;
    every other set leaves the engine as built and names the four models."""
    engine = "ppocr" if name == "gpu-ppocr" else ""
    assert _test_pod_models(one(rendered[name], "Pod")) == _served_models(engine)
    _, container = server(rendered[name])
    if name in COMMAND_LIVENESS:
        assert tuple(container["livenessProbe"]["exec"]["command"][4:]) == _served_models(engine)
    if name == "gpu-ppocr":
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert "--allow-gpu-metrics=true" in container["args"]  # nv_gpu_memory_used_bytes (docs/capacity.md)


def test_capacity_quotes_the_ocr_onnx_sizes_of_the_wheel():
    """docs/capacity.md's lower bound on the OCR models' GPU memory: the wheel's ONNX files."""
    import importlib.metadata

    from layoutlmv3_triton.export import ppocr

    try:
        version = importlib.metadata.version(ppocr.DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the rapidocr wheel is not installed")
    if version != ppocr.DISTRIBUTION_VERSION:
        pytest.skip(f"rapidocr {version} is installed, docs/capacity.md quotes {ppocr.DISTRIBUTION_VERSION}")
    text = (REPO / "docs" / "capacity.md").read_text()
    sizes = [ppocr.package_file(f).stat().st_size for f in (ppocr.DETECTION_FILE, ppocr.RECOGNITION_FILE)]
    for size in (*sizes, sum(sizes)):
        assert f"{size:,} B" in text, size
    assert f"`rapidocr` {ppocr.DISTRIBUTION_VERSION} wheel" in text
