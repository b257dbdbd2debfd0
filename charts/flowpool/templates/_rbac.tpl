{{/*
The operator's permissions in the namespaces it watches. Each rule names the
calls that need it; keep it in step with operator/ (test/chart/rbac.test.ts
runs the operator with exactly these rules, and with each verb taken away).
*/}}
{{- define "flowpool.operatorRules" -}}
# Watch pools and report on them.
- apiGroups: ["flowpool.dev"]
  resources: ["workflowworkerpools"]
  verbs: ["list", "watch"]
- apiGroups: ["flowpool.dev"]
  resources: ["workflowworkerpools/status"]
  verbs: ["patch"]
# The Deployment's owner reference sets blockOwnerDeletion (a foreground
# delete of a pool waits for its workers); clusters that enforce owner
# reference permissions (the OwnerReferencesPermissionEnforcement admission
# plugin, on in OpenShift) allow that only to who may update the owner's finalizers.
- apiGroups: ["flowpool.dev"]
  resources: ["workflowworkerpools/finalizers"]
  verbs: ["update"]
# One worker Deployment per pool, created and updated by server-side apply: a
# patch, which needs create as well when the Deployment does not exist yet.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Worker pods: matched to stream consumers; with operator.podDeletionCost,
# marked with controller.kubernetes.io/pod-deletion-cost before a scale down
# (patch allows any change to a pod, so it is off unless asked for).
- apiGroups: [""]
  resources: ["pods"]
  {{- if .Values.operator.podDeletionCost.enabled }}
  verbs: ["list", "patch"]
  {{- else }}
  verbs: ["list"]
  {{- end }}
{{- if eq (include "flowpool.secretScope" .) "operator-role" }}
{{ include "flowpool.secretRule" . }}
{{- end }}
# Events on the pools that explain scale decisions (kubectl describe wwp).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}

{{- define "flowpool.leaderElectionRules" -}}
# The chart creates the Lease (templates/leader-lease.yaml): the operator only
# reads and renews that one.
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: [{{ include "flowpool.leaseName" . | quote }}]
  verbs: ["get", "update"]
{{- end -}}


{{- /* The Redis URL of pools that use spec.redis.urlSecretRef (get only: never list or watch). */ -}}
{{- define "flowpool.secretRule" -}}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
  {{- with .Values.rbac.secretNames }}
  resourceNames:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- /*
Where the Secret rule goes: "none" (rbac.readSecrets false); "operator-role"
(in the operator's Role when it watches one namespace, or its ClusterRole
with rbac.secretNamespaces ["*"]); "namespaces" (a Role in each namespace of
flowpool.secretNamespaces).
*/ -}}
{{- define "flowpool.secretScope" -}}
{{- if not .Values.rbac.readSecrets -}}
none
{{- else if or (include "flowpool.watchNamespace" .) (has "*" .Values.rbac.secretNamespaces) -}}
operator-role
{{- else -}}
namespaces
{{- end -}}
{{- end -}}

{{- /* The namespaces whose Secrets the operator may read, one per line: rbac.secretNamespaces, default the release namespace. */ -}}
{{- define "flowpool.secretNamespaces" -}}
{{- range (.Values.rbac.secretNamespaces | default (list .Release.Namespace)) | uniq }}
{{ . }}
{{- end }}
{{- end -}}
