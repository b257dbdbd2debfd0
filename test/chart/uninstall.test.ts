/**
 * `helm uninstall` leaves nothing of the operator's behind, with the
 * operator still running while the release goes away (as its pods are while
 * Helm deletes their Role). The chart's own operator identity, permissions
 * and environment, from a real `helm install` on a real kube-apiserver; the
 * operator runs in this process with a token of the chart's ServiceAccount.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import { loadOperatorConfig } from '../../operator/config.js';
import { type RunningOperator, startOperator } from '../../operator/main.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import { KubeApiServer } from '../support/kube-apiserver.js';
import { CHART_DIR, helm, helmAsync } from './helm.js';

const NS = 'flowpool-system';
const RELEASE = 'fp';
const LEASE = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/fp-flowpool-operator`;

let kube: KubeApiServer;
let operator: RunningOperator | undefined;

beforeAll(async () => {
  kube = await KubeApiServer.start();
});

afterAll(async () => {
  await operator?.stop();
  await kube?.destroy();
});

/** A kubeconfig file for a ServiceAccount, with a token from the TokenRequest API. */
async function serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
  const config = await kube.serviceAccountConfig(namespace, name, namespace);
  const file = path.join(path.dirname(kube.kubeconfigPath), `kubeconfig-${name}`);
  fs.writeFileSync(file, config.exportConfig(), { mode: 0o600 });
  return file;
}

/** The operator container's environment as installed, with what the kubelet would fill in. */
async function installedEnv(kubeconfig: string): Promise<Record<string, string>> {
  const answer = await kube.request<{
    spec: {
      template: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }> }> } };
    };
  }>('GET', `/apis/apps/v1/namespaces/${NS}/deployments/fp-flowpool-operator`);
  expect(answer.status).toBe(200);
  const env: Record<string, string> = {};
  for (const entry of answer.body.spec.template.spec.containers[0]!.env) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
  }
  return {
    ...env,
    POD_NAME: 'fp-flowpool-operator-0',
    POD_NAMESPACE: NS,
    KUBECONFIG: kubeconfig,
    PORT: '0',
  };
}

describe('helm uninstall with the operator running', () => {
  it('removes the Lease with the release, and the operator does not bring it back', async () => {
    const install = helm(['install', RELEASE, CHART_DIR, '-n', NS, '--create-namespace'], {
      kubeconfig: kube.kubeconfigPath,
    });
    expect(install.status, install.stderr).toBe(0);
    const kubeconfig = await serviceAccountKubeconfig(NS, 'fp-flowpool-operator');
    const config = loadOperatorConfig(await installedEnv(kubeconfig));
    expect(config).toMatchObject({ leaseName: 'fp-flowpool-operator', leaseNamespace: NS });

    const refused: string[] = [];
    const logger = pino(
      { level: 'info' },
      {
        write(line: string) {
          if (/\b403\b|forbidden/i.test(line)) refused.push(line);
        },
      },
    );
    operator = await startOperator(config, {
      logger,
      metrics: new OperatorMetrics(false),
      lease: { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 300 },
    });
    const running = operator;
    await waitFor('the operator to lead', () => running.isLeader(), { timeoutMs: 20_000 });
    const held = await kube.request<{ spec: { holderIdentity?: string } }>('GET', LEASE);
    expect(held.body.spec.holderIdentity).toBe('fp-flowpool-operator-0');
    expect(refused).toEqual([]);

    // Helm deletes the release's objects while the operator runs on.
    const uninstall = await helmAsync(['uninstall', RELEASE, '-n', NS], {
      kubeconfig: kube.kubeconfigPath,
    });
    expect(uninstall.status, uninstall.stderr).toBe(0);
    // Its Lease gone, the operator cannot renew and stops leading; it must not create it again.
    await waitFor('the operator to stop leading', () => !running.isLeader(), { timeoutMs: 20_000 });
    await running.stop();
    operator = undefined;

    expect((await kube.request('GET', LEASE)).status).toBe(404);
    const leases = await kube.request<{ items: unknown[] }>(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`,
    );
    expect(leases.body.items).toEqual([]);
  });
});
