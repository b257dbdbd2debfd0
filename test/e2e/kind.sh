#!/usr/bin/env bash
# flowpool end to end on a kind cluster: build the image, create a cluster and
# run the scenario shared with test/node/run.sh (test/e2e/scenario.sh): build
# an image with the scenario's own workflow module FROM the flowpool image,
# install PostgreSQL and Redis (deploy/), helm install the chart (operator
# with leader election, migration hook Job, api), apply a pool idling at zero
# workers, send bursts through the api Service and check that the pool scales
# up, applies every event exactly once and scales back to zero; kill the
# leading operator, wake from zero, helm upgrade to a new image tag while
# workers run, check every stopped worker drained (exit 0), helm uninstall.
#
# Needs docker, kind, kubectl, node and helm (helm from PATH, else the one
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
#   FLOWPOOL_E2E_SKIP_BUILD=1  use an existing flowpool:e2e-base image
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cluster="${FLOWPOOL_E2E_CLUSTER:-flowpool-e2e}"
keep="${FLOWPOOL_E2E_KEEP:-0}"
artifacts="${FLOWPOOL_E2E_ARTIFACTS:-$root/test-artifacts/e2e-kind}"
namespace=flowpool
release=flowpool
pool=e2e
tenant=e2e
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
need node "to read the worker pods' exit codes"
if command -v helm >/dev/null 2>&1; then
  helm_bin="$(command -v helm)"
else
  helm_bin="$("$root/test/tools/build.sh" --print-dir)/helm"
  [[ -x "$helm_bin" ]] || die "helm is needed on PATH (or run test/tools/build.sh)"
fi

export FLOWPOOL_E2E_CONTEXT="$context"
e2e_base_image="flowpool:e2e-base"
e2e_figures_file="$artifacts/figures.txt"
mkdir -p "$artifacts"
: >"$e2e_figures_file"

# How the scenario builds and loads images here.
e2e_build() {
  local tag="$1" context_dir="$2" file="$3"
  shift 3
  docker build --tag "$tag" --file "$file" "$@" "$context_dir"
}
e2e_load() { kind load docker-image --name "$cluster" "$@"; }

# shellcheck source=test/e2e/scenario.sh
source "$root/test/e2e/scenario.sh"

finish() {
  local status=$?
  scenario_stop_background
  if ((status != 0)) && kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    scenario_diagnostics "$artifacts"
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

step "build the image $e2e_base_image"
if [[ "${FLOWPOOL_E2E_SKIP_BUILD:-0}" == "1" ]]; then
  docker image inspect "$e2e_base_image" >/dev/null || die "FLOWPOOL_E2E_SKIP_BUILD=1 but there is no image $e2e_base_image"
else
  docker build --tag "$e2e_base_image" "$root"
fi

step "create the kind cluster $cluster"
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "deleting the cluster left from an earlier run"
  kind delete cluster --name "$cluster"
fi
kind create cluster --name "$cluster" --wait 180s

scenario_run
