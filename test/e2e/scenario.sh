# shellcheck shell=bash disable=SC2154
# The end-to-end scenario, shared by test/e2e/kind.sh (kind, Docker) and
# test/node/run.sh (a real node on this machine). Sourced; the caller sets
#   root                   the repository
#   namespace release pool tenant
#   e2e_base_image         the flowpool image, already built (flowpool:e2e-base)
# and defines
#   e2e_build TAG CONTEXT FILE [--build-arg K=V]...   build an image
#   e2e_load IMAGE...                                  put images on the nodes
#   log step die                                       as in kind.sh
# and may set e2e_node_logs_dir (kube-controller-manager.log, kube-scheduler.log,
# kubelet.log at --v=2) for the reaction breakdown after the first burst.
# kubectl and helm reach the cluster through KUBECONFIG and, when set,
# FLOWPOOL_E2E_CONTEXT. Then it calls scenario_run, which:
#   1. builds the scenario's image FROM the flowpool image with its own
#      workflow module (test/e2e/workflow/) and loads it;
#   2. installs PostgreSQL and Redis (deploy/) and helm installs the chart:
#      operator (2 replicas, leader election), migration hook Job, api; every
#      pod Ready through its probes;
#   3. applies a pool idling at zero, sends a burst through the api Service,
#      sees the pool scale up, checks every event applied exactly once (api
#      and SQL) and the pool back at zero;
#   4. kills the leading operator pod; the standby takes the Lease and the
#      pool wakes from zero for a second burst, exactly once again;
#   5. a new image tag for the pool while its workers are busy with a third
#      burst, and helm upgrade to it: the workers roll, exactly once again;
#   6. every worker stopped on the way exited 0 (drained);
#   7. helm uninstall leaves the CRD and nothing of the release.
# With e2e_snapshot_dir set, the objects and logs are written there before
# the uninstall (scenario_diagnostics). Figures (seconds) go to stderr as "figure: <name> <value>" and to
# $e2e_figures_file when set.

e2e_image="flowpool:e2e"
e2e_started=$SECONDS

k() { kubectl ${FLOWPOOL_E2E_CONTEXT:+--context "$FLOWPOOL_E2E_CONTEXT"} --namespace "$namespace" "$@"; }
kc() { kubectl ${FLOWPOOL_E2E_CONTEXT:+--context "$FLOWPOOL_E2E_CONTEXT"} "$@"; }
h() { "$helm_bin" ${FLOWPOOL_E2E_CONTEXT:+--kube-context "$FLOWPOOL_E2E_CONTEXT"} --namespace "$namespace" "$@"; }

figure() {
  log "figure: $1 $2"
  if [[ -n "${e2e_figures_file:-}" ]]; then printf '%s %s\n' "$1" "$2" >>"$e2e_figures_file"; fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# wait_until DESCRIPTION SECONDS COMMAND...: runs COMMAND every second until
# it succeeds, or fails the scenario after SECONDS.
wait_until() {
  local description="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  log "waiting up to ${timeout}s until $description"
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting until $description"
    sleep 1
  done
  log "ok: $description"
}

pool_replicas() { k get deployment "$pool" -o jsonpath='{.spec.replicas}' 2>/dev/null || true; }
replicas_are() { [[ "$(pool_replicas)" == "$1" ]]; }
replicas_at_least() { local r; r="$(pool_replicas)"; [[ -n "$r" ]] && ((r >= $1)); }
deployment_exists() { k get deployment "$pool"; }
job_complete() { [[ "$(k get job "$1" -o jsonpath='{.status.succeeded}' 2>/dev/null)" == "1" ]]; }
job_failed() {
  [[ "$(k get job "$1" -o jsonpath='{.status.conditions[?(@.type=="Failed")].status}' 2>/dev/null)" == "True" ]]
}
job_done() { job_complete "$1" || job_failed "$1"; }
lease_holder() { k get lease "$release-operator" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true; }
holder_is_not() { local holder; holder="$(lease_holder)"; [[ -n "$holder" && "$holder" != "$1" ]]; }
worker_ready_count() { k get deployment "$pool" -o jsonpath='{.status.readyReplicas}' 2>/dev/null || true; }
workers_ready() { local r; r="$(worker_ready_count)"; [[ -n "$r" ]] && ((r >= 1)); }

# One line a second: time, replicas, ready replicas, backlog.
e2e_sampler_pid=""
e2e_watch_pid=""
start_sampler() {
  e2e_samples="$(mktemp)"
  (
    while true; do
      printf '%s %s %s %s\n' "$(now)" "$(pool_replicas | grep . || echo -)" \
        "$(worker_ready_count | grep . || echo 0)" \
        "$(k get workflowworkerpools "$pool" -o jsonpath='{.status.backlog}' 2>/dev/null | grep . || echo -)" \
        >>"$e2e_samples"
      sleep 1
    done
  ) &
  e2e_sampler_pid=$!
}

# Every state change of the worker pods, as JSON lines, to find how each
# stopped worker ended (exit code, when it was told to stop, when it exited).
start_pod_watch() {
  e2e_pod_events="$(mktemp)"
  k get pods -l "app.kubernetes.io/name=flowpool-worker" --watch --output-watch-events -o json \
    >"$e2e_pod_events" 2>/dev/null &
  e2e_watch_pid=$!
}

scenario_stop_background() {
  local pid
  for pid in "$e2e_sampler_pid" "$e2e_watch_pid"; do
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  done
  e2e_sampler_pid=""
  e2e_watch_pid=""
}

# burst_jobs RUN COMPONENT: the burst-jobs.yaml Job of COMPONENT (burst or
# check), renamed for RUN.
burst_jobs() {
  local run="$1" component="$2"
  sed -e "s/name: e2e-burst-/name: $run-burst-/" \
    -e "/name: BURST_RUN/{n;s/value: e2e\$/value: $run/}" \
    "$root/test/e2e/burst-jobs.yaml" |
    k apply -f - --selector "app.kubernetes.io/component=$component" >/dev/null
}

# send_burst RUN: sends the burst and echoes how many events the api accepted.
send_burst() {
  local run="$1" report sent
  burst_jobs "$run" burst
  wait_until "the burst $run was sent" 600 job_done "$run-burst-send"
  report="$(k logs "job/$run-burst-send" | tail -n 1)"
  job_complete "$run-burst-send" || die "the burst Job $run failed: $report"
  log "burst $run: $report"
  sent="$(sed -n 's/.*"events":\([0-9]*\).*/\1/p' <<<"$report")"
  if [[ -z "$sent" ]] || ((sent == 0)); then die "the burst $run sent no events: $report"; fi
  printf '%s\n' "$sent"
}

# check_exactly_once RUN SENT: every event of RUN applied once, in order,
# seen through the api (burst.mjs check) and in PostgreSQL (exactly-once.sql).
check_exactly_once() {
  local run="$1" sent="$2" report figures
  burst_jobs "$run" check
  wait_until "the check of $run finished" 900 job_done "$run-burst-check"
  report="$(k logs "job/$run-burst-check" | tail -n 1)"
  log "check $run: $report"
  job_complete "$run-burst-check" || die "the check Job of $run failed: $report"
  figures="$(k exec -i deployment/postgres -- psql -U flowpool -d flowpool -X -q -At -F ' ' \
    -v ON_ERROR_STOP=1 -v run="$run" -v tenant="$tenant" -v expected="$sent" \
    <"$root/test/e2e/exactly-once.sql")"
  log "executions events applied not_applied completed comments behind ok: $figures"
  [[ "${figures##* }" == "t" ]] || die "the database disagrees for $run: $figures"
  read -r _ events applied _ _ comments _ _ <<<"$figures"
  figure "events_lost_$run" "$((sent - applied))"
  figure "events_duplicated_$run" "$((comments - applied))"
  k exec "deployment/$release-api" -- node dist/cli/main.js verify "$run-0000" \
    --tenant "$tenant" >/dev/null || die "flowpool verify disagrees for $run-0000"
  ((events == sent)) || die "$run: $events events stored, $sent sent"
}

# burst_to_ready RUN: seconds from the start of RUN's send Job (the first
# events arrive then) to the first worker pod Ready, from the objects' own
# timestamps (whole seconds).
burst_to_ready() {
  local run="$1" sent_at ready_at
  sent_at="$(k get pods -l "job-name=$run-burst-send" \
    -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.startedAt}')"
  ready_at="$(k get pods -l app.kubernetes.io/name=flowpool-worker \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].lastTransitionTime}{"\n"}{end}' |
    sort | awk -v t="$sent_at" '$1 >= t { print; exit }')"
  if [[ -z "$sent_at" || -z "$ready_at" ]]; then echo -; return 0; fi
  echo $(($(date -d "$ready_at" +%s) - $(date -d "$sent_at" +%s)))
}

# first_ready_worker: the name of the worker pod that became Ready first.
first_ready_worker() {
  k get pods -l app.kubernetes.io/name=flowpool-worker \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].lastTransitionTime} {.metadata.name}{"\n"}{end}' |
    awk 'NF == 2' | sort | head -n 1 | cut -d' ' -f2
}

# reaction_capture RUN: while the first worker still runs, keeps its log and
# the operators' (they go with the pods) for reaction_breakdown.
reaction_capture() {
  local run="$1"
  e2e_reaction_dir="$(mktemp -d)"
  first_ready_worker >"$e2e_reaction_dir/pod" 2>/dev/null || true
  k logs "pod/$(cat "$e2e_reaction_dir/pod")" >"$e2e_reaction_dir/worker.log" 2>/dev/null || true
  k logs -l app.kubernetes.io/component=operator --prefix --tail=-1 \
    >"$e2e_reaction_dir/operator.log" 2>/dev/null || true
  log "reaction of $run: first Ready worker $(cat "$e2e_reaction_dir/pod")"
}

# reaction_breakdown RUN: what the reaction to RUN was made of (burst stored →
# operator decision → Deployment → pod → scheduled → kubelet → sandbox →
# container → process → Ready), milliseconds per step, as figures
# reaction_<step>_ms; "?" where a line was not found. The Kubernetes
# components' steps need their logs (e2e_node_logs_dir, test/node/run.sh).
reaction_breakdown() {
  local run="$1" times accepted applied name value
  times="$(k exec deployment/postgres -- psql -U flowpool -d flowpool -X -q -At -F ' ' -c \
    "SELECT to_char(min(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
            to_char(min(applied_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
     FROM workflow_events WHERE tenant = '$tenant' AND execution_id LIKE '$run-%'" 2>/dev/null || true)"
  read -r accepted applied <<<"$times"
  while read -r name value; do
    [[ -n "$name" ]] && figure "reaction_${name}_ms" "$value"
  done < <(node "$root/test/node/reaction.mjs" --namespace "$namespace" --pool "$pool" \
    --pod "$(cat "$e2e_reaction_dir/pod" 2>/dev/null)" --accepted "${accepted:-}" \
    --applied "${applied:-}" --operator "$e2e_reaction_dir/operator.log" \
    --worker "$e2e_reaction_dir/worker.log" --node-logs "${e2e_node_logs_dir:-}" 2>/dev/null || true)
}

scenario_images() {
  step "build the scenario's image $e2e_image: $e2e_base_image + test/e2e/workflow/tally.mjs"
  local begun=$SECONDS
  e2e_build "$e2e_image" "$root/test/e2e/workflow" "$root/test/e2e/workflow/Containerfile" \
    --build-arg "FLOWPOOL_IMAGE=$e2e_base_image" --build-arg BUILD_ID=1
  e2e_build "flowpool:e2e-2" "$root/test/e2e/workflow" "$root/test/e2e/workflow/Containerfile" \
    --build-arg "FLOWPOOL_IMAGE=$e2e_base_image" --build-arg BUILD_ID=2
  e2e_load "$e2e_image" flowpool:e2e-2
  figure workflow_image_build_and_load_s "$((SECONDS - begun))"
}

scenario_install() {
  step "install PostgreSQL and Redis (deploy/) and the connection Secret (examples/secret.yaml)"
  kc create namespace "$namespace"
  k apply -f "$root/deploy/postgres.yaml" -f "$root/deploy/redis.yaml"
  k apply -f "$root/examples/secret.yaml"
  k rollout status deployment/postgres --timeout=300s
  k rollout status deployment/redis --timeout=300s

  step "helm install the chart (the migration hook Job runs flowpool migrate first)"
  local begun
  begun="$(now)"
  h install "$release" "$root/charts/flowpool" --values "$root/test/e2e/values.yaml" \
    --wait --timeout 10m
  k rollout status "deployment/$release-operator" --timeout=300s
  figure helm_install_to_operator_ready_s "$(elapsed "$begun" "$(now)")"
  k rollout status "deployment/$release-api" --timeout=300s
  figure helm_install_to_api_ready_s "$(elapsed "$begun" "$(now)")"
  kc get crd workflowworkerpools.flowpool.dev >/dev/null
  # Every pod of the release Ready through its own probes.
  k wait pods -l "app.kubernetes.io/instance=$release" --for=condition=Ready --timeout=120s
  local ready
  ready="$(k get deployment "$release-operator" -o jsonpath='{.status.readyReplicas}')"
  [[ "$ready" == 2 ]] || die "expected 2 operator replicas Ready, found ${ready:-0}"
  wait_until "an operator holds the leader Lease" 120 bash -c "[[ -n \"\$(kubectl ${FLOWPOOL_E2E_CONTEXT:+--context $FLOWPOOL_E2E_CONTEXT} -n $namespace get lease $release-operator -o jsonpath='{.spec.holderIdentity}')\" ]]"
  log "operator leader: $(lease_holder)"
  # The image runs as its non-root user under the chart's security context,
  # on a read-only root filesystem.
  local uid
  uid="$(k exec "deployment/$release-api" -- node -e 'console.log(process.getuid())')"
  [[ "$uid" == 10001 ]] || die "the api runs as uid $uid, not 10001"
  if k exec "deployment/$release-api" -- node -e 'require("node:fs").writeFileSync("/app/probe", "x")' 2>/dev/null; then
    die "the api container could write to its root filesystem"
  fi
  kc explain workflowworkerpools.spec.autoscaling >/dev/null
}

scenario_first_burst() {
  step "apply the pool $pool and wait for it to idle at zero workers"
  k apply -f "$root/test/e2e/pool.yaml"
  wait_until "the operator created the worker Deployment $pool" 120 deployment_exists
  wait_until "the idle pool is at zero workers" 240 replicas_are 0
  start_sampler
  start_pod_watch

  step "send the burst through the api Service"
  k create configmap flowpool-e2e-burst --from-file=burst.mjs="$root/test/e2e/burst.mjs"
  local begun sent
  begun="$(now)"
  sent="$(send_burst e2e)"
  wait_until "the pool has at least 2 workers" 180 replicas_at_least 2
  wait_until "a worker is Ready" 180 workers_ready
  reaction_capture e2e
  figure burst_start_to_first_worker_ready_s "$(burst_to_ready e2e)"
  check_exactly_once e2e "$sent"
  reaction_breakdown e2e
  figure burst_applied_s "$(elapsed "$begun" "$(now)")"

  step "the pool scales back to zero"
  begun="$(now)"
  wait_until "the pool is back at zero workers" 300 replicas_are 0
  figure applied_to_zero_s "$(elapsed "$begun" "$(now)")"
  local max_workers max_backlog
  max_workers="$(awk '$2 != "-" && $2 > max { max = $2 } END { print max + 0 }' "$e2e_samples")"
  max_backlog="$(awk '$4 != "-" && $4 > max { max = $4 } END { print max + 0 }' "$e2e_samples")"
  figure most_workers "$max_workers"
  figure largest_backlog "$max_backlog"
  ((max_backlog > 0)) || die "the pool never reported a backlog"
}

scenario_failover_and_wake() {
  step "kill the leading operator pod; the standby takes over"
  local holder leader_pod begun sent
  holder="$(lease_holder)"
  # The operator names itself in the Lease by its pod name.
  leader_pod="$holder"
  k get pod "$leader_pod" >/dev/null 2>&1 || die "no operator pod matches the Lease holder '$holder'"
  begun="$(now)"
  k delete pod "$leader_pod" --wait=false
  wait_until "another operator holds the Lease" 120 holder_is_not "$holder"
  figure operator_failover_s "$(elapsed "$begun" "$(now)")"
  log "new leader: $(lease_holder)"

  step "wake from zero under the new leader"
  begun="$(now)"
  sent="$(send_burst e2e-wake)"
  wait_until "a worker is Ready" 180 workers_ready
  figure wake_burst_start_to_first_worker_ready_s "$(burst_to_ready e2e-wake)"
  check_exactly_once e2e-wake "$sent"
  k rollout status "deployment/$release-operator" --timeout=300s
}

scenario_upgrade() {
  step "new image tag flowpool:e2e-2 while workers are busy with a burst: they roll with drains"
  local sent
  burst_jobs e2e-upgrade burst
  wait_until "workers are busy with the burst e2e-upgrade" 180 bash -c \
    "[[ \"\$(kubectl ${FLOWPOOL_E2E_CONTEXT:+--context $FLOWPOOL_E2E_CONTEXT} -n $namespace get deployment $pool -o jsonpath='{.status.readyReplicas}')\" -ge 1 ]] &&
     [[ \"\$(kubectl ${FLOWPOOL_E2E_CONTEXT:+--context $FLOWPOOL_E2E_CONTEXT} -n $namespace get workflowworkerpools $pool -o jsonpath='{.status.backlog}')\" -gt 0 ]]"
  k patch workflowworkerpools "$pool" --type merge -p '{"spec":{"image":"flowpool:e2e-2"}}'
  # The chart too, while the burst may still be arriving: the api rolls under
  # it (the burst retries refused connections; idempotency keys make that safe).
  h upgrade "$release" "$root/charts/flowpool" --values "$root/test/e2e/values.yaml" \
    --set image.tag=e2e-2 --wait --timeout 10m
  wait_until "the burst e2e-upgrade was sent" 600 job_done e2e-upgrade-burst-send
  job_complete e2e-upgrade-burst-send || die "the burst e2e-upgrade failed: $(k logs job/e2e-upgrade-burst-send | tail -n 1)"
  sent="$(k logs job/e2e-upgrade-burst-send | tail -n 1 | sed -n 's/.*"events":\([0-9]*\).*/\1/p')"
  [[ -n "$sent" ]] || die "the burst e2e-upgrade reported no count"
  wait_until "the workers run flowpool:e2e-2" 300 bash -c \
    "[[ \"\$(kubectl ${FLOWPOOL_E2E_CONTEXT:+--context $FLOWPOOL_E2E_CONTEXT} -n $namespace get deployment $pool -o jsonpath='{.spec.template.spec.containers[0].image}')\" == flowpool:e2e-2 ]]"
  check_exactly_once e2e-upgrade "$sent"
  [[ "$(k get deployment "$release-operator" -o jsonpath='{.spec.template.spec.containers[0].image}')" == flowpool:e2e-2 ]] ||
    die "the operator does not run flowpool:e2e-2 after the upgrade"
  wait_until "the pool is back at zero workers" 300 replicas_are 0
}

# Every worker container that stopped during the scenario exited 0; prints
# how long each took from its stop request to its exit.
scenario_drains() {
  step "every stopped worker drained and exited 0"
  scenario_stop_background
  local summary
  # shellcheck disable=SC2016 # JavaScript template strings, not shell
  summary="$(node -e '
    const fs = require("node:fs");
    const text = fs.readFileSync(process.argv[1], "utf8");
    // kubectl --watch -o json prints one pretty JSON object per event.
    const events = [];
    let depth = 0, start = -1, inString = false, escaped = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inString) { if (escaped) escaped = false; else if (c === "\\") escaped = true; else if (c === "\"") inString = false; continue; }
      if (c === "\"") inString = true;
      else if (c === "{") { if (depth++ === 0) start = i; }
      else if (c === "}") { if (--depth === 0) events.push(JSON.parse(text.slice(start, i + 1))); }
    }
    const ended = new Map();
    for (const { object: pod } of events) {
      const status = (pod.status?.containerStatuses ?? []).find((s) => s.name === "worker") ?? pod.status?.containerStatuses?.[0];
      const done = status?.state?.terminated ?? status?.lastState?.terminated;
      if (!done || !pod.metadata.deletionTimestamp) continue;
      // deletionTimestamp is when the grace period ends; all in whole seconds.
      const asked = Date.parse(pod.metadata.deletionTimestamp) - (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
      const cost = pod.metadata.annotations?.["controller.kubernetes.io/pod-deletion-cost"] ?? "none";
      ended.set(pod.metadata.name, { exitCode: done.exitCode, reason: done.reason, cost, seconds: Math.max(0, (Date.parse(done.finishedAt) - asked) / 1000) });
    }
    const all = [...ended.values()];
    const bad = [...ended].filter(([, e]) => e.exitCode !== 0).map(([name, e]) => `${name}: exit ${e.exitCode} (${e.reason})`);
    const seconds = all.map((e) => e.seconds).sort((a, b) => a - b);
    const costs = {};
    for (const e of all) costs[e.cost] = (costs[e.cost] ?? 0) + 1;
    console.log(JSON.stringify({ stopped: all.length, bad, deletionCosts: costs, medianDrainSeconds: seconds[Math.floor(seconds.length / 2)] ?? null, maxDrainSeconds: seconds.at(-1) ?? null }));
  ' "$e2e_pod_events")"
  log "stopped workers: $summary"
  local stopped
  stopped="$(sed -n 's/.*"stopped":\([0-9]*\).*/\1/p' <<<"$summary")"
  ((stopped > 0)) || die "no worker was seen stopping"
  [[ "$summary" == *'"bad":[]'* ]] || die "workers that did not exit 0: $summary"
  figure workers_stopped "$stopped"
  figure drain_median_s "$(sed -n 's/.*"medianDrainSeconds":\([0-9.]*\).*/\1/p' <<<"$summary")"
  figure drain_max_s "$(sed -n 's/.*"maxDrainSeconds":\([0-9.]*\).*/\1/p' <<<"$summary")"
}

# Error lines (pino level 50 and up) the release's programs logged; shown,
# not failed on: a run that passes with errors logged still needs a look.
scenario_logged_errors() {
  local selector errors
  for selector in app.kubernetes.io/component=operator app.kubernetes.io/component=api \
    app.kubernetes.io/name=flowpool-worker; do
    errors="$(k logs -l "$selector" --all-containers --prefix --tail=-1 2>/dev/null |
      grep -E '"level":(50|60)' || true)"
    if [[ -n "$errors" ]]; then
      log "logged errors ($selector): $(wc -l <<<"$errors") lines, e.g. $(head -n 3 <<<"$errors" | cut -c1-400)"
    fi
    figure "logged_errors_${selector##*=}" "$(grep -c . <<<"$errors" || true)"
  done
}

scenario_uninstall() {
  step "helm uninstall: the CRD stays (helm.sh/resource-policy: keep), nothing of the release remains"
  h uninstall "$release" --wait --timeout 5m
  kc get crd workflowworkerpools.flowpool.dev >/dev/null || die "the CRD was deleted with the release"
  # Pods stop after their owners are gone: wait for them, then nothing is left.
  wait_until "the release's pods are gone" 120 bash -c \
    "[[ -z \"\$(kubectl ${FLOWPOOL_E2E_CONTEXT:+--context $FLOWPOOL_E2E_CONTEXT} -n $namespace get pods -l app.kubernetes.io/instance=$release -o name)\" ]]"
  local left
  left="$(k get all,jobs,secrets,configmaps,serviceaccounts,roles,rolebindings,leases,poddisruptionbudgets \
    -l "app.kubernetes.io/instance=$release" -o name 2>/dev/null)"
  left+="$(kc get clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings \
    -l "app.kubernetes.io/instance=$release" -o name 2>/dev/null)"
  [[ -z "$left" ]] || die "left behind by helm uninstall: $(tr '\n' ' ' <<<"$left")"
  # The pool was applied apart from the release: it and its workers stay.
  k get workflowworkerpools "$pool" >/dev/null || die "the pool went with the release"
}

# scenario_diagnostics DIR: objects, events and logs, for a failed run.
scenario_diagnostics() {
  local dir="$1"
  mkdir -p "$dir"
  log "writing diagnostics to $dir"
  k get all,workflowworkerpools,jobs,leases -o wide >"$dir/objects.txt" 2>&1 || true
  k get workflowworkerpools -o yaml >"$dir/pools.yaml" 2>&1 || true
  k get deployments -o yaml >"$dir/deployments.yaml" 2>&1 || true
  k describe workflowworkerpools >"$dir/pools-describe.txt" 2>&1 || true
  k describe pods >"$dir/pods-describe.txt" 2>&1 || true
  k get events --sort-by=.lastTimestamp >"$dir/events.txt" 2>&1 || true
  k logs -l app.kubernetes.io/component=operator --all-containers --prefix --tail=2000 \
    >"$dir/operator.log" 2>&1 || true
  k logs -l app.kubernetes.io/component=api --all-containers --prefix --tail=2000 \
    >"$dir/api.log" 2>&1 || true
  k logs -l app.kubernetes.io/name=flowpool-worker --all-containers --prefix --tail=2000 \
    >"$dir/workers.log" 2>&1 || true
  k logs -l app.kubernetes.io/name=flowpool-e2e --all-containers --prefix --tail=500 \
    >"$dir/burst.log" 2>&1 || true
  h status "$release" >"$dir/helm-status.txt" 2>&1 || true
  if [[ -n "${e2e_samples:-}" ]]; then cp "$e2e_samples" "$dir/samples.txt" 2>/dev/null || true; fi
}

scenario_run() {
  scenario_images
  scenario_install
  scenario_first_burst
  scenario_failover_and_wake
  scenario_upgrade
  scenario_drains
  scenario_logged_errors
  # What the cluster looked like before the uninstall, when asked for.
  if [[ -n "${e2e_snapshot_dir:-}" ]]; then scenario_diagnostics "$e2e_snapshot_dir"; fi
  scenario_uninstall
  figure scenario_total_s "$((SECONDS - e2e_started))"
}
