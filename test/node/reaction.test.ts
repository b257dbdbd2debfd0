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
      [
        klog(
          at(1500),
          `"Event occurred" object="flowpool/e2e" kind="Deployment" reason="ScalingReplicaSet" message="Scaled up replica set e2e-abc from 0 to 1"`,
        ),
        klog(
          at(1600),
          `"Event occurred" object="flowpool/e2e-abc" kind="ReplicaSet" reason="SuccessfulCreate" message="Created pod: e2e-abc-xyz"`,
        ),
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(logs, 'kube-scheduler.log'),
      klog(at(1700), `"Successfully bound pod to node" pod="${pod}" node="n"`),
    );
    fs.writeFileSync(
      path.join(logs, 'kubelet.log'),
      [
        klog(at(1750), `"SyncLoop ADD" source="api" pods=["${pod}"]`),
        klog(
          at(2100),
          `"SyncLoop (PLEG): event for pod" pod="${pod}" event={"Type":"ContainerStarted","Data":"a"}`,
        ),
        klog(
          at(2400),
          `"SyncLoop (PLEG): event for pod" pod="${pod}" event={"Type":"ContainerStarted","Data":"b"}`,
        ),
        klog(at(4000), `"SyncLoop (probe)" probe="readiness" status="ready" pod="${pod}"`),
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
      deployment_scaled: '100',
      pod_created: '100',
      pod_scheduled: '100',
      kubelet_pod_added: '50',
      sandbox_started: '350',
      container_started: '300',
      process_first_log: '600',
      worker_running: '300',
      ready: '700',
      total_to_ready: '4000',
      first_applied: '3500',
    });
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
    expect(steps.size).toBe(12);
    for (const value of steps.values()) expect(value).toBe('?');
  });
});
