{{/*
Names. Everything the chart creates is named <fullname>-<part>; fullname is
the release name when it already contains the chart name (helm install
flowpool ...), <release>-<chart> otherwise, or fullnameOverride.
*/}}
{{- define "flowpool.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flowpool.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "flowpool.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "flowpool.operator.fullname" -}}
{{- printf "%s-operator" (include "flowpool.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{- define "flowpool.api.fullname" -}}
{{- printf "%s-api" (include "flowpool.fullname" . | trunc 59 | trimSuffix "-") -}}
{{- end -}}

{{- define "flowpool.migrate.fullname" -}}
{{- printf "%s-migrate" (include "flowpool.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "flowpool.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "flowpool.operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false: name the existing ServiceAccount the operator runs as" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Lease the operator replicas elect their leader with. */}}
{{- define "flowpool.leaseName" -}}
{{- default (include "flowpool.operator.fullname" .) .Values.operator.leaderElection.leaseName -}}
{{- end -}}

{{/* The namespace the operator's Role (or ClusterRole) grants access in, "" for all. */}}
{{- define "flowpool.watchNamespace" -}}
{{- .Values.operator.watchNamespace | default "" -}}
{{- end -}}

{{/* Labels. */}}
{{- define "flowpool.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flowpool.standardLabels" -}}
helm.sh/chart: {{ include "flowpool.chart" . }}
app.kubernetes.io/name: {{ include "flowpool.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "flowpool.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: flowpool
{{- end -}}

{{/*
Maps merged into one, the first map given winning for a key several set.
Call with a list of maps; renders YAML.
*/}}
{{- define "flowpool.merge" -}}
{{- $out := dict -}}
{{- range . -}}
{{- $out = merge $out (. | default dict) -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{- define "flowpool.labels" -}}
{{ include "flowpool.merge" (list (include "flowpool.standardLabels" . | fromYaml) .Values.commonLabels) }}
{{- end -}}

{{/* Selector labels of one component (operator, api, migrate). Call with (list $ "operator"). */}}
{{- define "flowpool.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "flowpool.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/*
Labels of a component's objects: (list $ "operator") or, with labels of its
own that win over commonLabels (never over the chart's own labels),
(list $ "operator" extraLabels).
*/}}
{{- define "flowpool.componentLabels" -}}
{{- $root := index . 0 -}}
{{- $own := include "flowpool.standardLabels" $root | fromYaml -}}
{{- $_ := set $own "app.kubernetes.io/component" (index . 1) -}}
{{- $extra := dict -}}
{{- if gt (len .) 2 }}{{ $extra = index . 2 | default dict }}{{ end -}}
{{ include "flowpool.merge" (list $own $extra $root.Values.commonLabels) }}
{{- end -}}

{{/* Image. */}}
{{- define "flowpool.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{- define "flowpool.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "flowpool.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{- define "flowpool.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Connection settings as environment variables. "flowpool.urlEnv" takes
(list NAME connectionValues) and renders a value or a secretKeyRef.
*/}}
{{- define "flowpool.urlEnv" -}}
{{- $name := index . 0 -}}
{{- $conn := index . 1 -}}
- name: {{ $name }}
{{- if $conn.existingSecret.name }}
  valueFrom:
    secretKeyRef:
      name: {{ $conn.existingSecret.name | quote }}
      key: {{ $conn.existingSecret.key | quote }}
{{- else }}
  value: {{ $conn.url | quote }}
{{- end }}
{{- end -}}

{{/* True ("true") when a connection (database or redis values) names a URL or a Secret. */}}
{{- define "flowpool.hasConnection" -}}
{{- if or .url .existingSecret.name }}true{{ end -}}
{{- end -}}

{{/* Pod-level security context shared by the chart's pods (restricted profile). */}}
{{- define "flowpool.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{- define "flowpool.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext -}}
{{- end -}}

{{/* A soft anti-affinity spreading a component's replicas over nodes. Call with (list $ "operator"). */}}
{{- define "flowpool.softAntiAffinity" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "flowpool.selectorLabels" . | nindent 12 }}
{{- end -}}
