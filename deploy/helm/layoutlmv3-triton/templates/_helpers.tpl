{{/* Names, labels and the pieces several templates share. */}}

{{- define "layoutlmv3-triton.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "layoutlmv3-triton.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "layoutlmv3-triton.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "layoutlmv3-triton.selectorLabels" -}}
app.kubernetes.io/name: {{ include "layoutlmv3-triton.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "layoutlmv3-triton.labels" -}}
{{ include "layoutlmv3-triton.selectorLabels" . }}
{{ include "layoutlmv3-triton.commonLabels" . }}
{{- end }}

{{/* Labels that select nothing: on every object, and alone on the `helm test` pod. */}}
{{- define "layoutlmv3-triton.commonLabels" -}}
helm.sh/chart: {{ include "layoutlmv3-triton.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: layoutlmv3-triton
{{- end }}

{{/* The `helm test` pod's own name label: the Deployment's selector (and so the HPA, the
topology spread and the Services) must not count it; the NetworkPolicy lets it in by it. */}}
{{- define "layoutlmv3-triton.testSelectorLabels" -}}
app.kubernetes.io/name: {{ include "layoutlmv3-triton.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "layoutlmv3-triton.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "layoutlmv3-triton.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "layoutlmv3-triton.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* What --model-repository points at: the mounted claim, or the bucket URL. */}}
{{- define "layoutlmv3-triton.modelRepository" -}}
{{- $repo := .Values.modelRepository }}
{{- if eq $repo.source "pvc" }}/models
{{- else if eq $repo.source "s3" }}{{ required "modelRepository.s3.url is required with source s3" $repo.s3.url }}
{{- else if eq $repo.source "gcs" }}{{ required "modelRepository.gcs.url is required with source gcs" $repo.gcs.url }}
{{- else }}{{ fail (printf "modelRepository.source must be pvc, s3 or gcs, not %q" $repo.source) }}
{{- end }}
{{- end }}

{{/* The pod security settings, shared by the server and the `helm test` pod. */}}
{{- define "layoutlmv3-triton.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "layoutlmv3-triton.containerSecurityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end }}

{{/* Resources with the GPUs added: requests = limits for nvidia.com/gpu. */}}
{{- define "layoutlmv3-triton.resources" -}}
{{- $res := deepCopy .Values.resources }}
{{- range $kind := list "requests" "limits" }}
{{- if hasKey (get $res $kind | default dict) "nvidia.com/gpu" }}
{{- fail (printf "set GPUs with gpu.count, not resources.%s[\"nvidia.com/gpu\"]" $kind) }}
{{- end }}
{{- end }}
{{- if gt (int .Values.gpu.count) 0 }}
{{- $requests := get $res "requests" | default dict }}
{{- $limits := get $res "limits" | default dict }}
{{- $_ := set $requests "nvidia.com/gpu" (int .Values.gpu.count) }}
{{- $_ := set $limits "nvidia.com/gpu" (int .Values.gpu.count) }}
{{- $_ := set $res "requests" $requests }}
{{- $_ := set $res "limits" $limits }}
{{- end }}
{{- toYaml $res }}
{{- end }}

{{/* The Triton release of the image, "YY.MM" as an integer YYMM (2611 for 26.11), or 0 when
the tag is not an NGC release number. */}}
{{- define "layoutlmv3-triton.imageRelease" -}}
{{- $tag := toString (default .Chart.AppVersion .Values.image.tag) }}
{{- $m := regexFind "^[0-9][0-9]\\.[0-9][0-9]" $tag }}
{{- if $m }}{{ int (replace "." "" $m) }}{{ else }}0{{ end }}
{{- end }}

{{/* Seconds the startup probe allows before liveness takes over. */}}
{{- define "layoutlmv3-triton.startupBudgetSeconds" -}}
{{- $s := .Values.probes.startup }}
{{- add (int ($s.initialDelaySeconds | default 0)) (mul (int $s.periodSeconds) (int $s.failureThreshold)) }}
{{- end }}
