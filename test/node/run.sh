#!/usr/bin/env bash
# flowpool on a real single-node Kubernetes on this machine: builds the
# images with podman (the project's Dockerfile unchanged), starts a cluster
# in a temporary folder (test/node/cluster.sh), runs the end-to-end scenario
# shared with test/e2e/kind.sh (test/e2e/scenario.sh), and stops the cluster
# and restores the host whatever happens. Linux, root, Debian packages
# installed as needed; Kubernetes binaries from test/tools/build.sh --node.
#
# Usage: test/node/run.sh [--smoke]
#   --smoke   only start the cluster and run a trivial Deployment
#   FLOWPOOL_NODE_ARTIFACTS  folder for the cluster's logs and diagnostics
#                            (default test-artifacts/node)
#   FLOWPOOL_NODE_CACHE      debootstrap cache (default ~/.cache/flowpool-node)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
started=$SECONDS
smoke=false
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=true ;;
    -h | --help)
      sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "test/node/run.sh: unknown argument '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done
export FLOWPOOL_NODE_ARTIFACTS="${FLOWPOOL_NODE_ARTIFACTS:-$root/test-artifacts/node}"

log() { printf '[%4ds] %s\n' "$((SECONDS - started))" "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}
# timed NAME COMMAND...: runs COMMAND and records how long it took.
figures=()
timed() {
  local name="$1" begun=$SECONDS
  shift
  "$@"
  figures+=("$name: $((SECONDS - begun))s")
  log "$name took $((SECONDS - begun))s"
}

# shellcheck source=test/node/images.sh
source "$root/test/node/images.sh"
# shellcheck source=test/node/cluster.sh
source "$root/test/node/cluster.sh"

finish() {
  local status=$?
  trap - EXIT INT TERM
  node_cluster_down
  if ((${#figures[@]} > 0)); then
    log "figures:"
    printf '  %s\n' "${figures[@]}" >&2
  fi
  if ((status == 0)); then log "PASSED in $((SECONDS - started))s"; else log "FAILED (exit $status) after $((SECONDS - started))s"; fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

timed "packages" node_install_packages
timed "kubernetes binaries (test/tools/build.sh --node)" "$root/test/tools/build.sh" --node
timed "base and pause images" node_image_node_base
node_image_pause

timed "cluster up (containerd, etcd, apiserver, controllers, kubelet; node Ready)" node_cluster_up
timed "images into containerd (pause)" node_image_load "$pause_image"

if $smoke; then
  log "smoke: a 2-replica Deployment of localhost/flowpool-debian:bookworm"
  node_image_load localhost/flowpool-debian:bookworm
  kubectl apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: { name: smoke, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: smoke } }
  template:
    metadata: { labels: { app: smoke } }
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: sleep
          image: localhost/flowpool-debian:bookworm
          imagePullPolicy: Never
          command: ["sleep", "infinity"]
          readinessProbe: { exec: { command: ["true"] }, periodSeconds: 1 }
YAML
  timed "smoke Deployment Ready" kubectl rollout status deployment/smoke --timeout=120s
  kubectl get pods -o wide
  exit 0
fi
