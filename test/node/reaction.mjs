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
//   --node-logs             kube-controller-manager.log, kube-scheduler.log,
//                           kubelet.log (klog, local time, microseconds) at
//                           --v=2; without it those steps are unknown
// Prints one "step ms" line per step: the step's own duration, from the
// previous point that was found ("?" when its own line was not found), then
// "ready ms" (accepted → Ready) and "first_applied ms" (accepted → applied).
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

const decision = pinoLines(args.operator).find(
  (e) => e.msg === 'scaled worker Deployment' && e.from === 0 && e.to > 0 && e.t >= (accepted ?? 0),
)?.t;
const worker = pinoLines(args.worker);
const pleg = pod
  ? lines(kubelet).filter(
      (l) =>
        l.includes('SyncLoop (PLEG)') &&
        l.includes(`pod="${pod}"`) &&
        l.includes('ContainerStarted'),
    )
  : [];

// In the order they happen; each step is named for what fills the gap
// between the previous point and its own.
const points = [
  ['operator_decision', decision],
  [
    'deployment_scaled',
    firstKlog(
      cm,
      decision ?? accepted,
      'ScalingReplicaSet',
      `object="${ns}/${args.pool}"`,
      'Scaled up',
    ),
  ],
  ['pod_created', pod && firstKlog(cm, accepted, 'SuccessfulCreate', `Created pod: ${args.pod}`)],
  ['pod_scheduled', pod && firstKlog(sched, accepted, 'Successfully bound pod', `pod="${pod}"`)],
  ['kubelet_pod_added', pod && firstKlog(kubelet, accepted, 'SyncLoop ADD', `"${pod}"`)],
  // The pod's first ContainerStarted is its sandbox, the second its container.
  ['sandbox_started', pleg[0] && klogTime(pleg[0])],
  ['container_started', pleg[1] && klogTime(pleg[1])],
  ['process_first_log', worker.find((e) => e.msg === 'worker starting')?.t],
  ['worker_running', worker.find((e) => e.msg === 'worker running')?.t],
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
