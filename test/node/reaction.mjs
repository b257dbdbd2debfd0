// What the autoscaling reaction of test/e2e/scenario.sh's first burst is made
// of: from the first event stored to the first new worker pod Ready, step by
// step, in milliseconds, from timestamps with sub-second precision.
//
// Usage: node reaction.mjs --namespace NS --pool POOL --pod POD
//          --accepted ISO --applied ISO --operator FILE --worker FILE
//          [--node-logs DIR]
//   --accepted / --applied  the first event of the burst stored / applied
//                           (PostgreSQL created_at / applied_at, microseconds)
//   --operator              the operators' pino lines (kubectl logs --prefix)
//   --worker                the worker pod POD's pino lines
//   --node-logs             containerd.log, kube-controller-manager.log,
//                           kube-scheduler.log, kubelet.log (klog: local time,
//                           microseconds, --v=2); without it those steps are ?
// Prints one "step ms" line per step: the step's own duration, from the
// previous point that was found ("?" when its own line was not found), then
// "total_to_ready ms" (stored → Ready) and "first_applied ms" (stored →
// the first event of the burst applied, by any worker).
// Never fails on a missing or odd line: a reading aid, not a check.
import fs from 'node:fs';
import path from 'node:path';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1] ?? '';
}

function lines(file) {
  try {
    return file ? fs.readFileSync(file, 'utf8').split('\n') : [];
  } catch {
    return [];
  }
}

const ms = (text) => {
  const t = Date.parse(text ?? '');
  return Number.isFinite(t) ? t : undefined;
};

const accepted = ms(args.accepted);
const year = new Date(accepted ?? Date.now()).getFullYear();

// klog: "I1207 22:25:01.613096 pid file.go:1] ..." in the node's local time.
function klogTime(line) {
  const m = /^[IWEF](\d\d)(\d\d) (\d\d:\d\d:\d\d\.\d{3})/.exec(line);
  return m ? ms(`${year}-${m[1]}-${m[2]}T${m[3]}`) : undefined;
}

// The first klog line at or after `after` that matches every needle.
function firstKlog(file, after, ...needles) {
  for (const line of lines(file)) {
    if (!needles.every((needle) => line.includes(needle))) continue;
    const t = klogTime(line);
    if (t !== undefined && (after === undefined || t >= after - 1)) return t;
  }
  return undefined;
}

function pinoLines(file) {
  const out = [];
  for (const line of lines(file)) {
    const brace = line.indexOf('{');
    if (brace < 0) continue;
    try {
      const entry = JSON.parse(line.slice(brace));
      const t = typeof entry.time === 'number' ? entry.time : ms(entry.time);
      if (t !== undefined) out.push({ ...entry, t });
    } catch {}
  }
  return out;
}

const ns = args.namespace;
const pod = args.pod ? `${ns}/${args.pod}` : undefined;
const logs = args['node-logs'];
const cm = logs && path.join(logs, 'kube-controller-manager.log');
const sched = logs && path.join(logs, 'kube-scheduler.log');
const kubelet = logs && path.join(logs, 'kubelet.log');

// containerd: time="2026-12-07T22:48:05.923414770Z" level=info msg="..." (UTC,
// nanoseconds). The sandbox and container ids chain the pod's lines.
const containerd = lines(logs && path.join(logs, 'containerd.log'));
function firstContainerd(...needles) {
  const line = containerd.find((l) => needles.every((needle) => l.includes(needle)));
  const m = line && /^time="([^"]+)"/.exec(line);
  return m ? { t: ms(m[1]), line } : undefined;
}
const idIn = (found, what) =>
  found && new RegExp(`returns ${what} id \\\\"([0-9a-f]+)`).exec(found.line)?.[1];
const sandboxAsked = args.pod && firstContainerd('RunPodSandbox for', `{Name:${args.pod},`);
const sandboxUp =
  args.pod && firstContainerd('RunPodSandbox for', `{Name:${args.pod},`, 'returns sandbox id');
const sandboxId = idIn(sandboxUp, 'sandbox');
const created =
  sandboxId && firstContainerd('CreateContainer within sandbox', sandboxId, 'returns container id');
const containerId = idIn(created, 'container');
const started =
  containerId && firstContainerd('StartContainer for', containerId, 'returns successfully');

const decision = pinoLines(args.operator).find(
  (e) => e.msg === 'scaled worker Deployment' && e.from === 0 && e.to > 0 && e.t >= (accepted ?? 0),
)?.t;
const worker = pinoLines(args.worker);

const scaling =
  ns && args.pool
    ? firstKlog(cm, accepted, 'Too few replicas', `replicaSet="${ns}/${args.pool}-`)
    : undefined;
// In the order they happen; each step is named for what ends it, and its
// figure is the time since the previous point found.
const points = [
  // The operator's poll finds the backlog and scales the Deployment.
  ['operator_decision', decision],
  // The Deployment controller scales the ReplicaSet, which starts creating pods.
  ['replicaset_scaling', scaling],
  ['pod_scheduled', pod && firstKlog(sched, accepted, 'Successfully bound pod', `pod="${pod}"`)],
  ['kubelet_pod_added', pod && firstKlog(kubelet, accepted, 'SyncLoop ADD', `"${pod}"`)],
  // The kubelet mounts the pod's volumes, then asks for its sandbox.
  ['sandbox_requested', sandboxAsked?.t],
  ['sandbox_ready', sandboxUp?.t],
  ['container_created', created?.t],
  ['container_started', started?.t],
  // Node loads the program, parses its config and opens its HTTP port.
  ['process_first_log', worker.find((e) => e.msg === 'worker starting')?.t],
  // PostgreSQL and Redis reached, the consumer group joined.
  ['worker_running', worker.find((e) => e.msg === 'worker running')?.t],
  // The next readiness probe passes.
  [
    'ready',
    pod &&
      firstKlog(
        kubelet,
        accepted,
        'SyncLoop (probe)',
        'probe="readiness"',
        'status="ready"',
        `pod="${pod}"`,
      ),
  ],
];

// Each step causes the next, but a program logs a step once its call returned
// (the operator its patch, the scheduler its binding), often after the next
// program already acted on it: a step ended no later than the next one seen.
let later;
for (let i = points.length - 1; i >= 0; i--) {
  const t = points[i][1];
  if (t === undefined) continue;
  if (later !== undefined && t > later) points[i][1] = later;
  later = points[i][1];
}

let previous = accepted;
for (const [name, t] of points) {
  if (t === undefined || previous === undefined) {
    console.log(`${name} ?`);
  } else {
    console.log(`${name} ${Math.round(t - previous)}`);
  }
  if (t !== undefined) previous = t;
}
const span = (t) =>
  t === undefined || accepted === undefined ? '?' : String(Math.round(t - accepted));
console.log(`total_to_ready ${span(points.at(-1)[1])}`);
console.log(`first_applied ${span(ms(args.applied))}`);
