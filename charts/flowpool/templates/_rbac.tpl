{{/*
The operator's permissions in the namespaces it watches. Each rule names the
calls that need it; keep it in step with operator/ (test/chart/rbac.test.ts
runs the operator with exactly these rules, and with each verb taken away).
*/}}
{{- define "flowpool.operatorRules" -}}
# Watch pools and report on them.
- apiGroups: ["flowpool.dev"]
  resources: ["workflowworkerpools"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["flowpool.dev"]
  resources: ["workflowworkerpools/status"]
  verbs: ["get", "update", "patch"]
# One worker Deployment per pool, applied server-side.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
# Worker pods: readiness, and the pod-deletion-cost annotation before a scale down.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "patch"]
{{- if .Values.rbac.readSecrets }}
# The Redis URL of pools that use spec.redis.urlSecretRef (get only: never list or watch).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
  {{- with .Values.rbac.secretNames }}
  resourceNames:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
# Events that explain scale decisions (kubectl describe wwp).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{- define "flowpool.leaderElectionRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: [{{ include "flowpool.leaseName" . | quote }}]
  verbs: ["get", "update", "patch"]
# RBAC cannot limit create by name (a create request carries no name in its URL).
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
{{- end -}}
