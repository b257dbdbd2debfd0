/**
 * test/node/reaction.mjs reads the first burst's reaction out of the logs the
 * node run leaves: each step's milliseconds, and "?" for a line it cannot find
 * rather than a failure (the scenario must not fail on a reading aid).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'reaction.mjs');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reaction-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// klog writes local time; these fixtures are written in the test's local time.
function klog(at: Date, rest: string): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const stamp = `${p(at.getMonth() + 1)}${p(at.getDate())} ${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())}.${p(at.getMilliseconds(), 3)}000`;
  return `I${stamp}   1 file.go:1] ${rest}`;
}

function run(args: string[]): Map<string, string> {
  const result = spawnSync('node', [SCRIPT, ...args], { encoding: 'utf8' });
  expect(result.status).toBe(0);
  return new Map(
    result.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(' ') as [string, string]),
  );
}

describe('test/node/reaction.mjs', () => {
  it('splits burst stored → worker Ready into steps, in milliseconds', () => {
    const t0 = Date.UTC(2026, 11, 7, 22, 30, 0);
    const at = (ms: number) => new Date(t0 + ms);
    const pod = 'flowpool/e2e-abc-xyz';
    const logs = path.join(dir, 'logs');
    fs.mkdirSync(logs);
    fs.writeFileSync(
      path.join(logs, 'kube-controller-manager.log'),
      klog(at(1500), '"Too few replicas" replicaSet="flowpool/e2e-abc" need=2 creating=2'),
    );
    fs.writeFileSync(
      path.join(logs, 'kube-scheduler.log'),
      klog(at(1600), `"Successfully bound pod to node" pod="${pod}" node="n"`),
    );
    fs.writeFileSync(
      path.join(logs, 'kubelet.log'),
      [
        klog(at(1650), `"SyncLoop ADD" source="api" pods=["${pod}"]`),
        klog(at(4000), `"SyncLoop (probe)" probe="readiness" status="ready" pod="${pod}"`),
      ].join('\n'),
    );
    // containerd writes UTC with nanoseconds; ids chain sandbox → container.
    const cd = (ms: number, msg: string) =>
      `time="${at(ms).toISOString().replace('Z', '123456Z')}" level=info msg="${msg}"`;
    fs.writeFileSync(
      path.join(logs, 'containerd.log'),
      [
        cd(
          1900,
          'RunPodSandbox for &PodSandboxMetadata{Name:e2e-abc-xyz,Uid:u,Namespace:flowpool,Attempt:0,}',
        ),
        cd(
          2000,
          'RunPodSandbox for &PodSandboxMetadata{Name:e2e-other,Uid:v,Namespace:flowpool,Attempt:0,} returns sandbox id \\"bad\\"',
        ),
        cd(
          2400,
          'RunPodSandbox for &PodSandboxMetadata{Name:e2e-abc-xyz,Uid:u,Namespace:flowpool,Attempt:0,} returns sandbox id \\"5a\\"',
        ),
        cd(
          2500,
          'CreateContainer within sandbox \\"bad\\" for &ContainerMetadata{Name:worker,Attempt:0,} returns container id \\"c0\\"',
        ),
        cd(
          2700,
          'CreateContainer within sandbox \\"5a\\" for &ContainerMetadata{Name:worker,Attempt:0,} returns container id \\"c1\\"',
        ),
        cd(2750, 'StartContainer for \\"c1\\"'),
        cd(2800, 'StartContainer for \\"c0\\" returns successfully'),
        cd(2900, 'StartContainer for \\"c1\\" returns successfully'),
      ].join('\n'),
    );
    const operator = path.join(dir, 'operator.log');
    fs.writeFileSync(
      operator,
      `[pod/op/operator] ${JSON.stringify({ time: at(1400).toISOString(), from: 0, to: 1, msg: 'scaled worker Deployment' })}\n`,
    );
    const worker = path.join(dir, 'worker.log');
    fs.writeFileSync(
      worker,
      [
        JSON.stringify({ time: at(3000).toISOString(), msg: 'worker starting' }),
        JSON.stringify({ time: at(3300).toISOString(), msg: 'worker running' }),
      ].join('\n'),
    );
    const steps = run([
      '--namespace',
      'flowpool',
      '--pool',
      'e2e',
      '--pod',
      'e2e-abc-xyz',
      '--accepted',
      at(0).toISOString(),
      '--applied',
      at(3500).toISOString(),
      '--operator',
      operator,
      '--worker',
      worker,
      '--node-logs',
      logs,
    ]);
    expect(Object.fromEntries(steps)).toEqual({
      operator_decision: '1400',
      replicaset_scaling: '100',
      pod_scheduled: '100',
      kubelet_pod_added: '50',
      sandbox_requested: '250',
      sandbox_ready: '500',
      container_created: '300',
      container_started: '200',
      process_first_log: '100',
      worker_running: '300',
      ready: '700',
      total_to_ready: '4000',
      first_applied: '3500',
    });
  });

  it('ends a step logged after the next one began at that next one (never a negative step)', () => {
    const t0 = Date.UTC(2026, 11, 7, 23, 0, 0);
    const logs = path.join(dir, 'late');
    fs.mkdirSync(logs);
    // The replica set acts on the patch before the operator logs it.
    fs.writeFileSync(
      path.join(logs, 'kube-controller-manager.log'),
      klog(
        new Date(t0 + 900),
        '"Too few replicas" replicaSet="flowpool/e2e-abc" need=1 creating=1',
      ),
    );
    const operator = path.join(logs, 'operator.log');
    fs.writeFileSync(
      operator,
      JSON.stringify({
        time: new Date(t0 + 950).toISOString(),
        from: 0,
        to: 1,
        msg: 'scaled worker Deployment',
      }),
    );
    const steps = run([
      '--namespace',
      'flowpool',
      '--pool',
      'e2e',
      '--pod',
      'e2e-abc-xyz',
      '--accepted',
      new Date(t0).toISOString(),
      '--applied',
      '',
      '--operator',
      operator,
      '--worker',
      '',
      '--node-logs',
      logs,
    ]);
    expect(steps.get('operator_decision')).toBe('900');
    expect(steps.get('replicaset_scaling')).toBe('0');
  });

  it('prints "?" for what it cannot find, and still exits 0', () => {
    const steps = run([
      '--namespace',
      'flowpool',
      '--pool',
      'e2e',
      '--pod',
      '',
      '--accepted',
      '',
      '--applied',
      '',
      '--operator',
      path.join(dir, 'missing.log'),
      '--worker',
      '',
      '--node-logs',
      '',
    ]);
    expect(steps.size).toBe(13);
    for (const value of steps.values()) expect(value).toBe('?');
  });
});
