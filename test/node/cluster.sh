# shellcheck shell=bash disable=SC2154
# (root, log, die and pause_image come from the script that sources this file.)
# A real single-node Kubernetes in a temporary folder: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kube-proxy and a kubelet on
# containerd + runc, pods on a CNI bridge, cluster DNS from dnsmasq. Sourced
# by test/node/run.sh (needs `root` set, log/die defined and images.sh
# sourced). Linux, root, no systemd.
#
#   node_cluster_up     start everything; exports KUBECONFIG (admin)
#   node_cluster_down   stop everything and restore the host: processes by
#                       PID, containers, mounts, network namespaces, cgroups,
#                       iptables chains, links and sysctls. Safe to call twice
#                       and from a trap at any point of node_cluster_up.
#
# Addresses: the node is 10.250.0.1 on a link (fpnode0) of its own;
# pods 10.244.0.0/24 on the bridge fpbr0; Services 10.96.0.0/24; the
# apiserver https://10.250.0.1:6443; DNS 10.250.0.1:53. Nothing listens
# outside these, 127.0.0.1 and the namespaces the run creates.

node_name=flowpool-node
node_ip=10.250.0.1
node_link=fpnode0
node_bridge=fpbr0
node_pod_cidr=10.244.0.0/24
node_service_cidr=10.96.0.0/24
node_apiserver_url="https://$node_ip:6443"
node_packages=(podman buildah runc containerd debootstrap containernetworking-plugins uidmap
  fuse-overlayfs slirp4netns conmon iptables catatonit dnsmasq-base conntrack openssl curl gcc libc6-dev)
# The sysctls the kubelet and kube-proxy set (and the two this harness sets),
# put back as they were.
node_sysctls=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
  net.ipv4.conf.all.forwarding net.ipv4.conf.default.forwarding net.ipv6.conf.all.forwarding
  net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
  net.bridge.bridge-nf-call-ip6tables net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait)

node_dir=""
containerd_socket=""

node_install_packages() {
  local missing=() package
  for package in "${node_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
    {
      apt-get update -q >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    }
}

node_bin() { printf '%s/%s\n' "$("$root/test/tools/build.sh" --print-dir)" "$1"; }

# node_start NAME COMMAND...: runs COMMAND in the background, its output in
# logs/NAME.log, and records its PID for node_cluster_down.
node_start() {
  local name="$1"
  shift
  "$@" >"$node_dir/logs/$name.log" 2>&1 &
  printf '%s %s\n' "$name" "$!" >>"$node_dir/state/pids"
}

# node_wait DESCRIPTION SECONDS COMMAND...: every 0.5 s until COMMAND succeeds.
node_wait() {
  local description="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $description"
    sleep 0.5
  done
}

node_snapshot_host() {
  local key
  : >"$node_dir/state/sysctls"
  for key in "${node_sysctls[@]}"; do
    [[ -e "/proc/sys/${key//.//}" ]] && printf '%s=%s\n' "$key" "$(cat "/proc/sys/${key//.//}")" >>"$node_dir/state/sysctls"
  done
  sysctl -a 2>/dev/null | sort >"$node_dir/state/sysctl-all"
  node_chains >"$node_dir/state/chains"
  local netns
  : >"$node_dir/state/netns"
  for netns in /run/netns/*; do [[ -e "$netns" ]] && echo "$netns" >>"$node_dir/state/netns"; done
  local controller
  : >"$node_dir/state/cgroups"
  for controller in /sys/fs/cgroup/*/; do
    controller="${controller%/}"
    [[ -d "$controller/kubepods" ]] && echo "$controller/kubepods" >>"$node_dir/state/cgroups"
  done
  return 0
}

# Every iptables/ip6tables chain, as "<command> <table> <chain>".
node_chains() {
  local command table
  for command in iptables ip6tables; do
    for table in filter nat mangle raw; do
      "$command" -t "$table" -S 2>/dev/null | awk -v c="$command" -v t="$table" '$1 == "-N" { print c, t, $2 }'
    done
  done
}

node_pki() {
  local pki="$node_dir/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=flowpool-node-ca \
      -keyout ca.key -out ca.crt 2>/dev/null
    cat >apiserver.ext <<EOF
subjectAltName = IP:$node_ip, IP:10.96.0.1, IP:127.0.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, DNS:localhost
extendedKeyUsage = serverAuth
EOF
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout apiserver.key \
      -out apiserver.csr 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    echo 'extendedKeyUsage = clientAuth' >client.ext
    openssl req -newkey rsa:2048 -nodes -subj '/O=system:masters/CN=kube-apiserver-kubelet-client' \
      -keyout kubelet-client.key -out kubelet-client.csr 2>/dev/null
    openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile client.ext -out kubelet-client.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 ./*.key
  )
  # Static tokens: one user per component, each with the groups the default
  # RBAC bindings expect.
  local user
  : >"$pki/tokens.csv"
  chmod 600 "$pki/tokens.csv"
  for user in 'admin|system:masters' "system:node:$node_name|system:nodes" \
    'system:kube-controller-manager|' 'system:kube-scheduler|' 'system:kube-proxy|'; do
    local name="${user%|*}" group="${user#*|}" token
    token="$(openssl rand -hex 24)"
    printf '%s,%s,%s%s\n' "$token" "$name" "$name" "${group:+,\"$group\"}" >>"$pki/tokens.csv"
    node_kubeconfig "$node_dir/${name//:/-}.kubeconfig" "$name" "$token"
  done
}

node_kubeconfig() {
  local file="$1" user="$2" token="$3"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: $node_name
    cluster:
      server: $node_apiserver_url
      certificate-authority: $node_dir/pki/ca.crt
users:
  - name: $user
    user:
      token: $token
contexts:
  - name: $node_name
    context:
      cluster: $node_name
      user: $user
current-context: $node_name
EOF
  chmod 600 "$file"
}

node_network() {
  # A bridge without ports: this kernel has no dummy links, and an address
  # on it is local all the same.
  ip link add "$node_link" type bridge
  echo "$node_link" >>"$node_dir/state/links"
  ip addr add "$node_ip/32" dev "$node_link"
  ip link set "$node_link" up
  # Pods reach Services (kube-proxy's DNAT) and each other across the bridge.
  modprobe br_netfilter 2>/dev/null || true
  sysctl -q -w net.ipv4.ip_forward=1
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] && sysctl -q -w net.bridge.bridge-nf-call-iptables=1
  echo "$node_bridge" >>"$node_dir/state/links"
  mkdir -p "$node_dir/cni/net.d" "$node_dir/cni/ipam"
  cat >"$node_dir/cni/net.d/10-flowpool.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "flowpool-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$node_bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$node_pod_cidr" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$node_dir/cni/ipam"
      }
    }
  ]
}
EOF
}

node_containerd() {
  local dir="$node_dir/containerd"
  mkdir -p "$dir"
  containerd_socket="$dir/containerd.sock"
  containerd config default | sed \
    -e "s|^root = .*|root = \"$dir/root\"|" \
    -e "s|^state = .*|state = \"$dir/state\"|" \
    -e "s|address = \"/run/containerd/containerd.sock\"|address = \"$containerd_socket\"|" \
    -e 's|netns_mounts_under_state_dir = false|netns_mounts_under_state_dir = true|' \
    -e 's|restrict_oom_score_adj = false|restrict_oom_score_adj = true|' \
    -e "s|sandbox_image = .*|sandbox_image = \"$pause_image\"|" \
    -e 's|bin_dir = "/opt/cni/bin"|bin_dir = "/usr/lib/cni"|' \
    -e "s|conf_dir = \"/etc/cni/net.d\"|conf_dir = \"$node_dir/cni/net.d\"|" \
    -e "s|path = \"/opt/containerd\"|path = \"$dir/opt\"|" \
    >"$dir/config.toml"
  # restrict_oom_score_adj: this shell may only lower oom_score_adj; without
  # it every pod sandbox fails ("can't get final child's PID from pipe").
  node_start containerd containerd --config "$dir/config.toml"
  node_wait "containerd" 30 ctr --address "$containerd_socket" version
}

node_control_plane() {
  local pki="$node_dir/pki" etcd_port etcd_peer_port
  read -r etcd_port etcd_peer_port < <(node -e '
    const net = require("node:net");
    const one = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => ok(p)); }); });
    Promise.all([one(), one()]).then((ports) => console.log(ports.join(" ")));')
  node_start etcd "$(node_bin etcd)" --name=default --data-dir="$node_dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="default=http://127.0.0.1:$etcd_peer_port" --unsafe-no-fsync=true --log-level=warn
  node_wait "etcd" 60 curl -fsS "http://127.0.0.1:$etcd_port/health"

  node_start kube-apiserver "$(node_bin kube-apiserver)" \
    --etcd-servers="http://127.0.0.1:$etcd_port" --bind-address="$node_ip" --advertise-address="$node_ip" \
    --secure-port=6443 --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" --authorization-mode=Node,RBAC \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range="$node_service_cidr" \
    --kubelet-client-certificate="$pki/kubelet-client.crt" --kubelet-client-key="$pki/kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --profiling=false
  node_wait "kube-apiserver /readyz" 120 kubectl get --raw /readyz
  node_wait "the default namespace" 60 kubectl get namespace default

  node_start kube-controller-manager "$(node_bin kube-controller-manager)" \
    --kubeconfig="$node_dir/system-kube-controller-manager.kubeconfig" --secure-port=0 \
    --use-service-account-credentials --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/ca.crt" --leader-elect=false --cluster-name="$node_name" --v=2
  # --v=2 here and on the kubelet: the lines (microseconds) the scenario's
  # reaction breakdown reads: scaled, pod created, bound, added, started, ready.
  node_start kube-scheduler "$(node_bin kube-scheduler)" \
    --kubeconfig="$node_dir/system-kube-scheduler.kubeconfig" --secure-port=0 --leader-elect=false --v=2
}

# Cluster DNS: dnsmasq answers <service>.<namespace>.svc.cluster.local from a
# hosts file a loop rewrites from the Services every second (dnsmasq rereads
# --hostsdir on change). Names outside cluster.local get no answer: pods
# need none here.
node_dns() {
  mkdir -p "$node_dir/dns"
  node_start dnsmasq dnsmasq --keep-in-foreground --log-facility=- --conf-file=/dev/null --user=root \
    --no-resolv --no-hosts --listen-address="$node_ip" --bind-interfaces --port=53 \
    --hostsdir="$node_dir/dns" --local=/cluster.local/ --domain-needed --pid-file="$node_dir/dnsmasq.pid"
  # shellcheck disable=SC2016 # the loop's own variables, expanded by its bash
  node_start dns-sync bash -c '
    dir="$1"; previous=""
    while true; do
      hosts="$(kubectl get services -A --no-headers \
        -o custom-columns=IP:.spec.clusterIP,NAME:.metadata.name,NS:.metadata.namespace 2>/dev/null |
        awk '\''$1 != "None" { printf "%s %s.%s.svc.cluster.local %s.%s.svc\n", $1, $2, $3, $2, $3 }'\'')"
      if [[ -n "$hosts" && "$hosts" != "$previous" ]]; then
        printf "%s\n" "$hosts" >"$dir/.services.tmp" && mv -f "$dir/.services.tmp" "$dir/services"
        previous="$hosts"
      fi
      sleep 1
    done' dns-sync "$node_dir/dns"
}

node_kubelet() {
  local dir="$node_dir/kubelet"
  mkdir -p "$dir/root" "$dir/pki" "$node_dir/pod-logs"
  : >"$dir/resolv.conf"
  cat >"$dir/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: 10250
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $node_dir/pki/ca.crt }
authorization: { mode: Webhook }
containerRuntimeEndpoint: unix://$containerd_socket
cgroupDriver: cgroupfs
# This machine mounts cgroup v1; 1.36 refuses it unless told otherwise.
failCgroupV1: false
failSwapOn: false
# The shell lacks CAP_SYS_RESOURCE: oom_score_adj may only go down.
oomScoreAdj: 0
clusterDNS: [$node_ip]
clusterDomain: cluster.local
resolvConf: $dir/resolv.conf
podLogsDir: $node_dir/pod-logs
serializeImagePulls: false
# Nothing can be pulled again: never collect images, evict only when truly short.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1% }
EOF
  node_start kubelet "$(node_bin kubelet)" --config="$dir/config.yaml" \
    --kubeconfig="$node_dir/system-node-$node_name.kubeconfig" --root-dir="$dir/root" \
    --cert-dir="$dir/pki" --node-ip="$node_ip" --hostname-override="$node_name" --v=2

  cat >"$node_dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $node_dir/system-kube-proxy.kubeconfig }
mode: iptables
clusterCIDR: $node_pod_cidr
hostnameOverride: $node_name
bindAddress: $node_ip
healthzBindAddress: $node_ip:10256
metricsBindAddress: $node_ip:10249
nodePortAddresses: [$node_ip/32]
iptables: { localhostNodePorts: false }
# Leave the host's conntrack settings alone.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF
  node_start kube-proxy "$(node_bin kube-proxy)" --config="$node_dir/kube-proxy.yaml"
}

node_ready() {
  [[ "$(kubectl get node "$node_name" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

node_cluster_up() {
  [[ "$(id -u)" == 0 ]] || die "the single-node cluster needs root"
  exec {node_lock_fd}>/run/lock/flowpool-node.lock
  flock -n "$node_lock_fd" || die "another single-node cluster is running (/run/lock/flowpool-node.lock)"
  ip link show "$node_link" >/dev/null 2>&1 && die "$node_link exists: a cluster is running or was left behind"
  local bin
  for bin in etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet; do
    [[ -x "$(node_bin "$bin")" ]] || die "$bin is not built: run test/tools/build.sh --node"
  done
  node_dir="$(mktemp -d /tmp/flowpool-node.XXXXXX)"
  mkdir -p "$node_dir/logs" "$node_dir/state"
  export KUBECONFIG="$node_dir/admin.kubeconfig"
  node_snapshot_host
  node_pki
  node_network
  node_containerd
  node_control_plane
  node_dns
  node_kubelet
  node_wait "node $node_name Ready" 120 node_ready
  node_wait "the default ServiceAccount" 60 kubectl get serviceaccount default
}

# ---------------------------------------------------------------- teardown

node_kill_pid() {
  local pid="$1" grace="${2:-10}" deadline
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

node_stop_named() {
  local wanted="$1" name pid
  [[ -f "$node_dir/state/pids" ]] || return 0
  while read -r name pid; do
    [[ "$name" == "$wanted" ]] && node_kill_pid "$pid"
  done <"$node_dir/state/pids"
  return 0
}

# Every process still in the kubelet's pod cgroups, and the containerd shims
# this run started (their command line names its socket).
node_kill_containers() {
  local pid
  if [[ -n "$containerd_socket" && -S "$containerd_socket" ]]; then
    local task
    for task in $(ctr --address "$containerd_socket" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$containerd_socket" -n k8s.io tasks kill -a -s SIGKILL "$task" >/dev/null 2>&1 || true
    done
  fi
  if [[ -d /sys/fs/cgroup/pids/kubepods ]] && ! grep -qx /sys/fs/cgroup/pids/kubepods "$node_dir/state/cgroups" 2>/dev/null; then
    find /sys/fs/cgroup/pids/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null |
      while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  grep -l -a -F -- "$node_dir/containerd" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 |
    while read -r pid; do
      [[ "$( (tr '\0' ' ' <"/proc/$pid/cmdline") 2>/dev/null)" == *containerd-shim* ]] && node_kill_pid "$pid" 2
    done
  return 0
}

node_unmount_all() {
  local target
  awk -v d="$node_dir" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r target; do
      umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true
    done
  # containerd keeps pod network namespaces under its state folder
  # (netns_mounts_under_state_dir); any made in /run/netns go too.
  local netns
  for netns in /run/netns/*; do
    [[ -e "$netns" ]] || continue
    if ! grep -qxF "$netns" "$node_dir/state/netns" 2>/dev/null; then
      umount "$netns" 2>/dev/null || true
      rm -f "$netns"
    fi
  done
}

node_remove_cgroups() {
  local controller
  for controller in /sys/fs/cgroup/*/; do
    controller="${controller%/}"
    [[ -d "$controller/kubepods" ]] || continue
    grep -qx "$controller/kubepods" "$node_dir/state/cgroups" 2>/dev/null && continue
    find "$controller/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}

node_remove_chains() {
  local command table chain
  [[ -f "$node_dir/state/chains" ]] || return 0
  node_chains | sort >"$node_dir/state/chains-after"
  sort "$node_dir/state/chains" >"$node_dir/state/chains-before"
  comm -13 "$node_dir/state/chains-before" "$node_dir/state/chains-after" >"$node_dir/state/chains-new"
  [[ -s "$node_dir/state/chains-new" ]] || return 0
  # First every rule that jumps to a new chain, wherever it is; then the chains.
  while read -r command table chain; do
    "$command" -t "$table" -S 2>/dev/null | grep -E -- "-j $chain( |$)" | sed 's/^-A /-D /' |
      while read -r rule; do eval "$command -t $table $rule" 2>/dev/null || true; done
  done <"$node_dir/state/chains-new"
  while read -r command table chain; do "$command" -t "$table" -F "$chain" 2>/dev/null || true; done <"$node_dir/state/chains-new"
  while read -r command table chain; do "$command" -t "$table" -X "$chain" 2>/dev/null || true; done <"$node_dir/state/chains-new"
}

node_restore_sysctls() {
  local line key value
  [[ -f "$node_dir/state/sysctls" ]] || return 0
  while IFS= read -r line; do
    key="${line%%=*}"
    value="${line#*=}"
    [[ "$(cat "/proc/sys/${key//.//}" 2>/dev/null)" == "$value" ]] || printf '%s' "$value" >"/proc/sys/${key//.//}" 2>/dev/null || true
  done <"$node_dir/state/sysctls"
  # Anything else the run changed is reported, not guessed at.
  sysctl -a 2>/dev/null | sort >"$node_dir/state/sysctl-after"
  local changed
  changed="$(comm -13 "$node_dir/state/sysctl-all" "$node_dir/state/sysctl-after" |
    grep -vE "^(fs\.(dentry|inode|file-nr|quota)|kernel\.(ns_last_pid|random|pty\.nr)|net\.netfilter\.nf_conntrack_count|net\.(ipv4|ipv6)\.(conf|neigh)\.(veth|$node_bridge|$node_link|cni)|net\.ipv6\.route\.|vm\.(stat|nr_)|kernel\.sched_domain|fs\.aio-nr|net\.core\.netdev_rss_key|kernel\.tainted)" || true)"
  [[ -z "$changed" ]] || log "warning: sysctls that differ from before the run (not restored): $(tr '\n' ';' <<<"$changed")"
}

node_cluster_down() {
  [[ -n "$node_dir" && -d "$node_dir" ]] || return 0
  set +e
  log "stopping the cluster and restoring the host"
  node_stop_named dns-sync
  node_stop_named kubelet
  node_kill_containers
  node_stop_named kube-proxy
  local name
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd dnsmasq containerd; do
    node_stop_named "$name"
  done
  node_kill_containers
  if [[ -x "$(node_bin kube-proxy)" ]]; then
    "$(node_bin kube-proxy)" --cleanup >/dev/null 2>&1
  fi
  node_unmount_all
  node_remove_cgroups
  node_remove_chains
  local link
  sort -u "$node_dir/state/links" 2>/dev/null | while read -r link; do
    ip link show "$link" >/dev/null 2>&1 && ip link delete "$link"
  done
  node_restore_sysctls
  if [[ -n "${FLOWPOOL_NODE_ARTIFACTS:-}" ]]; then
    mkdir -p "$FLOWPOOL_NODE_ARTIFACTS"
    cp -r "$node_dir/logs" "$FLOWPOOL_NODE_ARTIFACTS/" 2>/dev/null
  fi
  if awk -v d="$node_dir" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    log "warning: mounts remain under $node_dir; leaving it in place"
  else
    rm -rf --one-file-system "$node_dir"
  fi
  node_dir=""
  set -e
}
