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
# Prints the figures it measured at the end (also in $FLOWPOOL_NODE_ARTIFACTS/figures.txt).
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
      sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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

scenario_running=false
finish() {
  local status=$?
  trap - EXIT INT TERM
  if $scenario_running; then
    scenario_stop_background
    ((status == 0)) || scenario_diagnostics "$FLOWPOOL_NODE_ARTIFACTS"
  fi
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
PATH="$("$root/test/tools/build.sh" --print-dir):$PATH"
helm_bin="$(command -v helm)"
timed "base, pause, postgres and redis images" node_images_prerequisites

if ! $smoke; then
  timed "flowpool image (podman build of the unchanged Dockerfile)" \
    node_image_build flowpool:e2e-base "$root" "$root/Dockerfile"
  image_bytes="$(node_podman image inspect --format '{{.Size}}' docker.io/library/flowpool:e2e-base)"
  figures+=("flowpool image size: $((image_bytes / 1000000)) MB")
fi

timed "cluster up (containerd, etcd, apiserver, controllers, kubelet; node Ready)" node_cluster_up
timed "images into containerd" node_image_load "$pause_image" localhost/flowpool-debian:bookworm \
  docker.io/library/postgres:16-alpine docker.io/library/redis:7-alpine

if $smoke; then
  log "smoke: a 2-replica Deployment of localhost/flowpool-debian:bookworm"
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

# The scenario shared with test/e2e/kind.sh, with this node's ways of
# building and loading images.
namespace=flowpool
release=flowpool
pool=e2e
tenant=e2e
e2e_base_image=flowpool:e2e-base
e2e_figures_file="$FLOWPOOL_NODE_ARTIFACTS/figures.txt"
e2e_snapshot_dir="$FLOWPOOL_NODE_ARTIFACTS/before-uninstall"
# The components' own logs, for the reaction breakdown (scenario.sh).
e2e_node_logs_dir="$node_dir/logs"
mkdir -p "$FLOWPOOL_NODE_ARTIFACTS"
: >"$e2e_figures_file"
step() { printf '\n[%4ds] ==> %s\n' "$((SECONDS - started))" "$*" >&2; }
e2e_build() { node_image_build "$@"; }
e2e_load() {
  local image
  for image in "$@"; do node_image_load "docker.io/library/$image"; done
}
# shellcheck source=test/e2e/scenario.sh
source "$root/test/e2e/scenario.sh"
scenario_running=true
timed "scenario (test/e2e/scenario.sh)" scenario_run
scenario_running=false
