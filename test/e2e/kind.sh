#!/usr/bin/env bash
# flowpool end to end on a kind cluster: build the image, create a cluster,
# load the image, install PostgreSQL and Redis (deploy/), install the chart
# (its pre-install hook Job runs `flowpool migrate`), apply a pool that idles
# at zero workers, send a burst of events through the api, and check that the
# pool scales up, applies every event exactly once and scales back to zero.
#
# Needs docker, kind, kubectl and helm (helm from PATH, else the one
# test/tools/build.sh caches). Every manifest and values file used here is
# rendered and dry-run against a real kube-apiserver by test/chart/, and the
# burst and the exactly-once SQL run against a local api by
# test/e2e/burst.test.ts, so what this script applies is checked without
# Docker too.
#
# Usage: test/e2e/kind.sh
#   FLOWPOOL_E2E_CLUSTER    kind cluster name (default flowpool-e2e)
#   FLOWPOOL_E2E_KEEP=1     keep the cluster afterwards (default: delete it)
#   FLOWPOOL_E2E_ARTIFACTS  folder for logs and object dumps on failure
#                           (default test-artifacts/e2e-kind)
#   FLOWPOOL_E2E_SKIP_BUILD=1  use an existing flowpool:e2e image
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cluster="${FLOWPOOL_E2E_CLUSTER:-flowpool-e2e}"
keep="${FLOWPOOL_E2E_KEEP:-0}"
artifacts="${FLOWPOOL_E2E_ARTIFACTS:-$root/test-artifacts/e2e-kind}"
namespace=flowpool
release=flowpool
image=flowpool:e2e
pool=e2e
tenant=e2e
run_id=e2e
context="kind-$cluster"
started=$SECONDS

log() { printf '[%4ds] %s\n' "$((SECONDS - started))" "$*" >&2; }
step() { printf '\n[%4ds] ==> %s\n' "$((SECONDS - started))" "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is needed on PATH ($2)"
}

need docker "to build the image and run kind"
need kind "https://kind.sigs.k8s.io, or: go install sigs.k8s.io/kind@latest"
need kubectl "to talk to the cluster"
if command -v helm >/dev/null 2>&1; then
  helm_bin="$(command -v helm)"
else
  helm_bin="$("$root/test/tools/build.sh" --print-dir)/helm"
  [[ -x "$helm_bin" ]] || die "helm is needed on PATH (or run test/tools/build.sh)"
fi

k() { kubectl --context "$context" --namespace "$namespace" "$@"; }
h() { "$helm_bin" --kube-context "$context" --namespace "$namespace" "$@"; }

# wait_until DESCRIPTION SECONDS COMMAND...: runs COMMAND every 2 s until it
# succeeds, or fails the script after SECONDS.
wait_until() {
  local description="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  log "waiting up to ${timeout}s until $description"
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting until $description"
    sleep 2
  done
  log "ok: $description"
}

# The worker Deployment's spec.replicas ("" while it does not exist).
pool_replicas() {
  k get deployment "$pool" -o jsonpath='{.spec.replicas}' 2>/dev/null || true
}
replicas_are() { [[ "$(pool_replicas)" == "$1" ]]; }
deployment_exists() { k get deployment "$pool"; }
job_complete() {
  [[ "$(k get job "$1" -o jsonpath='{.status.succeeded}' 2>/dev/null)" == "1" ]]
}
job_failed() {
  [[ "$(k get job "$1" -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}' 2>/dev/null)" == "True" ]]
}
job_done() { job_complete "$1" || job_failed "$1"; }

dump_diagnostics() {
  mkdir -p "$artifacts"
  log "writing diagnostics to $artifacts"
  k get all,workflowworkerpools,jobs,leases -o wide >"$artifacts/objects.txt" 2>&1 || true
  k get workflowworkerpools -o yaml >"$artifacts/pools.yaml" 2>&1 || true
  k describe workflowworkerpools >"$artifacts/pools-describe.txt" 2>&1 || true
  k get events --sort-by=.lastTimestamp >"$artifacts/events.txt" 2>&1 || true
  k logs -l app.kubernetes.io/component=operator --all-containers --prefix --tail=2000 \
    >"$artifacts/operator.log" 2>&1 || true
  k logs -l app.kubernetes.io/component=api --all-containers --prefix --tail=2000 \
    >"$artifacts/api.log" 2>&1 || true
  k logs -l app.kubernetes.io/name=flowpool-worker --all-containers --prefix --tail=2000 \
    >"$artifacts/workers.log" 2>&1 || true
  k logs -l app.kubernetes.io/name=flowpool-e2e --all-containers --prefix --tail=500 \
    >"$artifacts/burst.log" 2>&1 || true
  h status "$release" >"$artifacts/helm-status.txt" 2>&1 || true
}

sampler_pid=""
finish() {
  local status=$?
  if [[ -n "$sampler_pid" ]]; then kill "$sampler_pid" 2>/dev/null || true; fi
  if ((status != 0)) && kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    dump_diagnostics
  fi
  if [[ "$keep" != "1" ]] && kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    log "deleting kind cluster $cluster (FLOWPOOL_E2E_KEEP=1 keeps it)"
    kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  fi
  if ((status == 0)); then
    log "PASSED in $((SECONDS - started))s"
  fi
  exit "$status"
}
trap finish EXIT

step "build the image $image"
if [[ "${FLOWPOOL_E2E_SKIP_BUILD:-0}" == "1" ]]; then
  docker image inspect "$image" >/dev/null || die "FLOWPOOL_E2E_SKIP_BUILD=1 but there is no image $image"
else
  docker build --tag "$image" "$root"
fi

step "create the kind cluster $cluster"
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "deleting the cluster left from an earlier run"
  kind delete cluster --name "$cluster"
fi
kind create cluster --name "$cluster" --wait 180s

step "load $image into the cluster"
kind load docker-image "$image" --name "$cluster"

step "install PostgreSQL and Redis (deploy/) and the connection Secret (examples/secret.yaml)"
kubectl --context "$context" create namespace "$namespace"
k apply -f "$root/deploy/postgres.yaml" -f "$root/deploy/redis.yaml"
k apply -f "$root/examples/secret.yaml"
k rollout status deployment/postgres --timeout=300s
k rollout status deployment/redis --timeout=300s

step "helm install the chart (the migration hook Job runs flowpool migrate first)"
h install "$release" "$root/charts/flowpool" --values "$root/test/e2e/values.yaml" \
  --wait --timeout 10m
k rollout status "deployment/$release-operator" --timeout=300s
k rollout status "deployment/$release-api" --timeout=300s
kubectl --context "$context" get crd workflowworkerpools.flowpool.dev >/dev/null
lease_holder="$(k get lease "$release-operator" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)"
log "operator leader: ${lease_holder:-<no lease yet>}"
kubectl --context "$context" explain workflowworkerpools.spec.autoscaling >/dev/null

step "apply the pool $pool and wait for it to idle at zero workers"
k apply -f "$root/test/e2e/pool.yaml"
wait_until "the operator created the worker Deployment $pool" 120 deployment_exists
wait_until "the idle pool is at zero workers" 240 replicas_are 0
k get workflowworkerpools "$pool"

step "send the burst"
k create configmap flowpool-e2e-burst --from-file=burst.mjs="$root/test/e2e/burst.mjs"
samples="$(mktemp)"
# One line a second: the worker Deployment's replicas and the pool's backlog
# ("-" when unknown), for the scale-up check and the summary.
(
  while true; do
    replicas="$(pool_replicas)"
    backlog="$(k get workflowworkerpools "$pool" -o jsonpath='{.status.backlog}' 2>/dev/null || true)"
    printf '%s %s\n' "${replicas:--}" "${backlog:--}" >>"$samples"
    sleep 1
  done
) &
sampler_pid=$!
k apply -f "$root/test/e2e/burst-jobs.yaml" --selector app.kubernetes.io/component=burst
wait_until "the burst Job finished" 600 job_done e2e-burst-send
job_complete e2e-burst-send || die "the burst Job failed: $(k logs job/e2e-burst-send --tail=20)"
send_report="$(k logs job/e2e-burst-send | tail -n 1)"
log "burst: $send_report"
sent="$(sed -n 's/.*"events":\([0-9]*\).*/\1/p' <<<"$send_report")"
if [[ -z "$sent" ]] || ((sent == 0)); then die "the burst sent no events: $send_report"; fi

step "check the pool scaled up"
wait_until "the pool has at least 2 workers (or had them during the burst)" 180 \
  bash -c "awk '\$1 >= 2 { found = 1 } END { exit !found }' '$samples'"

step "check every event was applied exactly once (api)"
k apply -f "$root/test/e2e/burst-jobs.yaml" --selector app.kubernetes.io/component=check
wait_until "the check Job finished" 900 job_done e2e-burst-check
check_report="$(k logs job/e2e-burst-check | tail -n 1)"
log "check: $check_report"
job_complete e2e-burst-check || die "the check Job failed: $check_report"

step "check every event was applied exactly once (database)"
figures="$(k exec -i deployment/postgres -- psql -U flowpool -d flowpool -X -q -At -F ' ' \
  -v ON_ERROR_STOP=1 -v run="$run_id" -v tenant="$tenant" -v expected="$sent" \
  <"$root/test/e2e/exactly-once.sql")"
log "executions events applied not_applied completed comments behind ok: $figures"
[[ "${figures##* }" == "t" ]] || die "the database disagrees: $figures"
k exec deployment/"$release"-api -- node dist/worker/cli/main.js verify "$run_id-0000" \
  --tenant "$tenant"

step "check the pool scales back to zero"
wait_until "the pool is back at zero workers" 300 replicas_are 0
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=""
max_workers="$(awk '$1 > max { max = $1 } END { print max + 0 }' "$samples")"
max_backlog="$(awk '$2 > max { max = $2 } END { print max + 0 }' "$samples")"
log "most workers seen: $max_workers; largest backlog reported: $max_backlog"
((max_backlog > 0)) || die "the pool never reported a backlog"
k get workflowworkerpools "$pool"
k describe workflowworkerpools "$pool"

step "uninstall the release: the CRD stays (helm.sh/resource-policy: keep)"
h uninstall "$release" --wait --timeout 5m
kubectl --context "$context" get crd workflowworkerpools.flowpool.dev >/dev/null ||
  die "the CRD was deleted with the release"
