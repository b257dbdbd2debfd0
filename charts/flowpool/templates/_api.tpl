{{/* The environment of the api and of `flowpool migrate` (DESIGN.md's contract). */}}
{{- define "flowpool.connectionEnv" -}}
{{ include "flowpool.urlEnv" (list "DATABASE_URL" .Values.database) }}
{{ include "flowpool.urlEnv" (list "REDIS_URL" .Values.redis) }}
- name: WORKFLOW_REDIS_STREAM_PREFIX
  value: {{ .Values.redis.streamPrefix | quote }}
- name: WORKFLOW_REDIS_CONSUMER_GROUP
  value: {{ .Values.redis.consumerGroup | quote }}
{{- end -}}

{{/* The migration container, as a Job's container or an api pod's init container. */}}
{{- define "flowpool.migrateContainer" -}}
- name: migrate
  image: {{ include "flowpool.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["migrate"]
  env:
    {{- include "flowpool.urlEnv" (list "DATABASE_URL" .Values.database) | nindent 4 }}
    - name: LOG_LEVEL
      value: {{ .Values.api.logLevel | quote }}
  {{- with .Values.migrations.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "flowpool.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end -}}

{{- define "flowpool.api.tokensSecretName" -}}
{{- if .Values.api.tokens.existingSecret -}}
{{- .Values.api.tokens.existingSecret -}}
{{- else -}}
{{- printf "%s-tokens" (include "flowpool.api.fullname" .) -}}
{{- end -}}
{{- end -}}
