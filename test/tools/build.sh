#!/usr/bin/env bash
# Builds the binaries the integration tests and chart checks need --
# kube-apiserver, etcd and helm -- from the Go modules beside this script, and
# caches them outside the checkout:
#
#   ${FLOWPOOL_TOOLS_CACHE:-$HOME/.cache/flowpool-test-tools}/<versions>/bin
#
# <versions> is derived from the go.mod files, so bumping a version builds a
# fresh set while the old one stays put. When all binaries of the current set
# exist, nothing is built. Needs Go (see the go directive of the go.mod files);
# the first build downloads modules and takes a while.
#
# Usage: test/tools/build.sh [--print-dir] [--force] [--node]
#   --print-dir  print the bin directory and exit (builds nothing)
#   --force      rebuild even when the cached binaries exist
#   --node       also build kubelet, kube-controller-manager, kube-scheduler,
#                kube-proxy and kubectl for the single-node cluster of
#                test/node/ (about 250 s of two cores more on the first build;
#                the normal test run skips them)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

print_dir=false
force=false
node=false
for arg in "$@"; do
  case "$arg" in
    --print-dir) print_dir=true ;;
    --force) force=true ;;
    --node) node=true ;;
    -h | --help)
      sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "test/tools/build.sh: unknown argument '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

# Prints the version that module_dir/go.mod requires for module.
required_version() {
  local module_dir="$1" module="$2" version
  version="$(awk -v m="$module" '
    $1 == "require" && $2 == m { print $3; exit }
    $1 == m && $2 ~ /^v/ { print $2; exit }
  ' "$here/$module_dir/go.mod")"
  if [[ -z "$version" ]]; then
    echo "test/tools/build.sh: $module_dir/go.mod does not require $module" >&2
    exit 1
  fi
  printf '%s\n' "$version"
}

kube_version="$(required_version kube k8s.io/kubernetes)"
etcd_version="$(required_version etcd go.etcd.io/etcd/server/v3)"
helm_version="$(required_version helm helm.sh/helm/v3)"

cache_root="${FLOWPOOL_TOOLS_CACHE:-$HOME/.cache/flowpool-test-tools}"
set_name="kube-${kube_version}_etcd-${etcd_version}_helm-${helm_version}"
bin_dir="$cache_root/$set_name/bin"

if $print_dir; then
  printf '%s\n' "$bin_dir"
  exit 0
fi

# Version stamps, so `kube-apiserver --version`, /version and `helm version`
# report the real release rather than a development placeholder.
IFS=. read -r kube_major kube_minor _ <<<"${kube_version#v}"
kube_ldflags="-X k8s.io/component-base/version.gitVersion=${kube_version}"
kube_ldflags+=" -X k8s.io/component-base/version.gitMajor=${kube_major}"
kube_ldflags+=" -X k8s.io/component-base/version.gitMinor=${kube_minor}"
kube_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=${helm_version}"

# module directory, package, binary name, extra linker flags
builds=(
  "kube k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver ${kube_ldflags}"
  "etcd go.etcd.io/etcd/server/v3 etcd"
  "helm helm.sh/helm/v3/cmd/helm helm ${helm_ldflags}"
)
if $node; then
  builds+=(
    "kube k8s.io/kubernetes/cmd/kubelet kubelet ${kube_ldflags}"
    "kube k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager ${kube_ldflags}"
    "kube k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler ${kube_ldflags}"
    "kube k8s.io/kubernetes/cmd/kube-proxy kube-proxy ${kube_ldflags}"
    "kube k8s.io/kubernetes/cmd/kubectl kubectl ${kube_ldflags}"
  )
fi

# Each binary has a stamp recording how it was built; one whose stamp
# differs from the recipe below (say, after a change of flags) is built again.
recipe_of() {
  printf 'CGO_ENABLED=0 go build -trimpath -ldflags=-s -w: %s\n' "$1"
}

missing=()
for entry in "${builds[@]}"; do
  read -r _ _ name _ <<<"$entry"
  stamp="$bin_dir/.$name.recipe"
  if $force || [[ ! -x "$bin_dir/$name" ]] || [[ ! -f "$stamp" ]] ||
    [[ "$(cat "$stamp")" != "$(recipe_of "$entry")" ]]; then
    missing+=("$entry")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "test tools: up to date in $bin_dir" >&2
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "test/tools/build.sh: Go is needed to build kube-apiserver, etcd and helm; install Go and run again" >&2
  exit 1
fi

mkdir -p "$bin_dir"
started=$SECONDS
echo "test tools: building into $bin_dir (kube-apiserver $kube_version, etcd $etcd_version, helm $helm_version); the first build downloads modules and takes several minutes" >&2

for entry in "${missing[@]}"; do
  read -r module_dir package name ldflags <<<"$entry"
  step_started=$SECONDS
  echo "test tools: building $name from $package" >&2
  # Build to a temporary name and rename, so an interrupted build never
  # leaves a half-written binary that looks cached.
  (
    cd "$here/$module_dir"
    CGO_ENABLED=0 go build -mod=readonly -buildvcs=false -trimpath \
      -ldflags="-s -w${ldflags:+ $ldflags}" -o "$bin_dir/.$name.partial.$$" "$package"
  )
  mv -f "$bin_dir/.$name.partial.$$" "$bin_dir/$name"
  recipe_of "$entry" >"$bin_dir/.$name.recipe"
  echo "test tools: built $name in $((SECONDS - step_started))s" >&2
done

echo "test tools: done in $((SECONDS - started))s; binaries are in $bin_dir" >&2
