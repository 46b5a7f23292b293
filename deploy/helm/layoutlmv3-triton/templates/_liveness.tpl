{{/*
The liveness probe.  It must fail when a python-backend stub has died: the python backend
stopped restarting dead stubs in r24.06 (python_backend #364), and /v2/health/live only says
that the server process answers.  values.yaml (probes.liveness.check) explains the two ways.
*/}}

{{/* The models of the repository, space-separated: contract.py's ALL_MODELS, then with
modelRepository.ocrEngine=ppocr its OCR_MODELS, the networks the preprocess step calls
through BLS.  The liveness command check and the `helm test` pod ask for these. */}}
{{- define "layoutlmv3-triton.models" -}}
layoutlmv3_preprocess layoutlmv3_model layoutlmv3_postprocess layoutlmv3_ensemble
{{- if eq (.Values.modelRepository.ocrEngine | default "") "ppocr" }} {{ include "layoutlmv3-triton.ocrModels" . }}{{ end }}
{{- end }}

{{/* The ppocr engine's models, as contract.py's OCR_MODELS (a deploy test keeps them equal). */}}
{{- define "layoutlmv3-triton.ocrModels" -}}
ocr_detection ocr_recognition
{{- end }}

{{/* check=models: python3 -c <this> <http port> <model>...; stdlib only, any image release. */}}
{{- define "layoutlmv3-triton.livenessModelsScript" -}}
import glob, sys, urllib.request
port, models = sys.argv[1], sys.argv[2:]
def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""
# Before Triton r26.01 nothing reaps a dead python-backend stub: it stays a zombie child of
# tritonserver ("triton_python_b", the kernel's 15-character name) in state Z.
for stat in glob.glob("/proc/[0-9]*/stat"):
    name, _, rest = read(stat).rpartition(b") ")
    fields = rest.split()
    if name.endswith(b"(triton_python_b") and fields[:1] == [b"Z"]:
        parent = read("/proc/%d/cmdline" % int(fields[1])).split(b"\0")
        if ("--http-port=" + port).encode() in parent:
            sys.exit("python backend stub %s of tritonserver is dead" % stat.split("/")[2])
# From r26.01 on, a model's ready endpoint asks each instance whether its stub is alive.
for model in models:
    try:
        urllib.request.urlopen("http://127.0.0.1:%s/v2/models/%s/ready" % (port, model), timeout=2)
    except OSError as exc:
        sys.exit("model %s is not ready: %s" % (model, exc))
{{- end }}

{{- define "layoutlmv3-triton.livenessProbe" -}}
{{- $live := .Values.probes.liveness }}
{{- $probe := omit $live "check" }}
{{- if eq $live.check "ready" }}
{{- $release := int (include "layoutlmv3-triton.imageRelease" .) }}
{{- if and (gt $release 0) (lt $release 2604) }}
{{- fail (printf "probes.liveness.check=ready needs Triton 26.04 or later, whose strict /v2/health/ready reports a dead python-backend stub (core 53fc26e); the image tag is %s: set probes.liveness.check=models" (toString (default .Chart.AppVersion .Values.image.tag))) }}
{{- end }}
{{- $_ := set $probe "httpGet" (dict "path" "/v2/health/ready" "port" "http") }}
{{- else if eq $live.check "models" }}
{{- $command := list "python3" "-c" (include "layoutlmv3-triton.livenessModelsScript" .) "8000" }}
{{- $command = concat $command (splitList " " (include "layoutlmv3-triton.models" .)) }}
{{- $_ := set $probe "exec" (dict "command" $command) }}
{{- else }}
{{- fail (printf "probes.liveness.check must be ready or models, not %q" $live.check) }}
{{- end }}
{{- toYaml $probe }}
{{- end }}
