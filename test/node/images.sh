# shellcheck shell=bash disable=SC2154
# (root, log, die and pause_image come from the script that sources this file.)
# Images for the single-node cluster, built with podman because nothing can
# be pulled here. Sourced by test/node/run.sh (needs `root` set and log/die
# defined). Cached between runs in podman's own store; the debootstrap'd
# rootfs in $node_cache.
#
#   flowpool-debian:bookworm   debootstrap --variant=minbase bookworm
#   node:20-bookworm-slim      + this machine's Node.js 20, npm, CA bundle
#                              (the FROM of the project's Dockerfile)
#   flowpool-pause:1           the pod sandbox (test/node/pause.c)
#   postgres:16-alpine, redis:7-alpine
#                              stand-ins for deploy/ (Debian's packages)

node_cache="${FLOWPOOL_NODE_CACHE:-$HOME/.cache/flowpool-node}"
node_images_dir="$root/test/node/images"
pause_image=localhost/flowpool-pause:1

# podman with a configuration of its own, so the host's stays untouched:
# runc (crun refuses the hybrid cgroup layout), cgroupfs (no systemd) and
# explicit ulimits (the shell may not raise rlimits, and runc fails without).
node_podman() {
  mkdir -p "$node_cache"
  local conf="$node_cache/containers.conf"
  if [[ ! -f "$conf" ]]; then
    cat >"$conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  fi
  CONTAINERS_CONF="$conf" podman "$@"
}

node_image_exists() { node_podman image exists "$1"; }

# The Debian mirror apt on this machine uses (debootstrap fetches from it).
node_debian_mirror() {
  local mirror
  mirror="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1 |
    awk '{ print $2 }')"
  printf '%s\n' "${mirror:-http://deb.debian.org/debian}"
}

node_image_debian() {
  node_image_exists localhost/flowpool-debian:bookworm && return 0
  local rootfs="$node_cache/rootfs-bookworm-minbase"
  if [[ ! -f "$rootfs/.complete" ]]; then
    log "debootstrap bookworm (minbase) into $rootfs"
    rm -rf "$rootfs.partial"
    debootstrap --variant=minbase bookworm "$rootfs.partial" "$(node_debian_mirror)" >/dev/null
    rm -rf "$rootfs.partial/var/cache/apt/archives/"*.deb "$rootfs.partial/var/lib/apt/lists/"*
    touch "$rootfs.partial/.complete"
    rm -rf "$rootfs"
    mv "$rootfs.partial" "$rootfs"
  fi
  tar --exclude=./.complete -C "$rootfs" -c . |
    node_podman import --change 'CMD ["/bin/bash"]' - localhost/flowpool-debian:bookworm >/dev/null
}

node_image_node_base() {
  node_image_exists docker.io/library/node:20-bookworm-slim && return 0
  node_image_debian
  local node_bin npm_dir context
  node_bin="$(command -v node)"
  [[ "$("$node_bin" --version)" == v20.* ]] || die "the base image needs Node.js 20 on this machine (found $("$node_bin" --version))"
  npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
  context="$(mktemp -d)"
  cp "$node_bin" "$context/node"
  cp -a "$(readlink -f "$npm_dir")" "$context/npm"
  cp /etc/ssl/certs/ca-certificates.crt "$context/"
  node_podman build --pull=never --network host --quiet -f "$node_images_dir/node-base.Containerfile" \
    -t docker.io/library/node:20-bookworm-slim "$context" >/dev/null
  rm -rf "$context"
}

node_image_pause() {
  node_image_exists "$pause_image" && return 0
  local context
  context="$(mktemp -d)"
  gcc -static -O2 -o "$context/pause" "$root/test/node/pause.c"
  node_podman build --pull=never --quiet -f "$node_images_dir/pause.Containerfile" \
    -t "$pause_image" "$context" >/dev/null
  rm -rf "$context"
}

# Postgres and Redis for deploy/, tagged with the names deploy/ uses.
node_image_services() {
  node_image_debian
  if ! node_image_exists docker.io/library/postgres:16-alpine; then
    node_podman build --pull=never --network host --quiet \
      -f "$node_images_dir/postgres.Containerfile" -t docker.io/library/postgres:16-alpine \
      "$node_images_dir" >/dev/null
  fi
  if ! node_image_exists docker.io/library/redis:7-alpine; then
    node_podman build --pull=never --network host --quiet \
      -f "$node_images_dir/redis.Containerfile" -t docker.io/library/redis:7-alpine \
      "$node_images_dir" >/dev/null
  fi
}

# node_image_build TAG CONTEXT [DOCKERFILE [BUILD OPTIONS...]]: builds with
# the network of the host (npm ci reaches the registry through the machine's
# proxy).
node_image_build() {
  local tag="$1" context="$2" file="${3:-$2/Dockerfile}"
  shift 3 || shift $#
  node_podman build --pull=never --network host -f "$file" -t "docker.io/library/$tag" "$@" "$context"
}

# node_image_load IMAGE...: copies images from podman into containerd's
# k8s.io namespace under their full names (docker.io/library/x:y), which is
# what the kubelet asks for when a pod names x:y.
node_image_load() {
  local image archive
  for image in "$@"; do
    archive="$(mktemp)"
    node_podman save --quiet --format docker-archive -o "$archive" "$image"
    ctr --address "$containerd_socket" -n k8s.io images import "$archive" >/dev/null
    rm -f "$archive"
  done
}

node_images_prerequisites() {
  node_image_node_base
  node_image_pause
  node_image_services
}
