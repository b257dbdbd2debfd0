/**
 * The operator's own limits on what a pool may ask for (images by prefix,
 * ServiceAccounts), on a real kube-apiserver: a pool outside them gets no
 * Deployment, a Ready=False condition and a Warning Event saying why, and
 * is rendered as soon as its spec is brought within them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import { OperatorMetrics } from '../../operator/metrics.js';
import type { KubeApiServer } from '../support/kube-apiserver.js';
import {
  condition,
  createPool,
  eventsFor,
  getDeployment,
  patchPool,
  poolManifest,
  startController,
  startKube,
  type TestController,
  waitForPool,
  waitForReplicas,
} from './support.js';

const NS = 'pod-policy';
// Nothing listens here: these pools are never polled successfully, which does not matter.
const REDIS = 'redis://127.0.0.1:1';

let kube: KubeApiServer;
let running: TestController;

beforeAll(async () => {
  kube = await startKube();
  running = await startController(kube, NS, new OperatorMetrics(false), {
    podPolicy: { imagePrefixes: ['ghcr.io/acme/'], serviceAccounts: ['workers'] },
  });
});

afterAll(async () => {
  await running?.stop();
  await kube?.destroy();
});

async function refusedWith(name: string, reason: string, message: RegExp) {
  const pool = await waitForPool(kube, NS, name, `Ready=False ${reason}`, (p) => {
    const ready = condition(p, 'Ready');
    return ready?.status === 'False' && ready.reason === reason;
  });
  expect(condition(pool, 'Ready')?.message).toMatch(message);
  await waitFor(`a Warning Event ${reason}`, async () =>
    (await eventsFor(kube, NS, name)).some((e) => e.type === 'Warning' && e.reason === reason),
  );
  expect(await getDeployment(kube, NS, name)).toBeUndefined();
}

describe('the operator allow-lists', () => {
  it('renders no Deployment for an image outside the allowed prefixes, then renders it once allowed', async () => {
    await createPool(
      kube,
      NS,
      poolManifest('miner', REDIS, 'workflow:events:miner', { image: 'evil.example/miner:1' }),
    );
    await refusedWith(
      'miner',
      'ImageNotAllowed',
      /^spec\.image "evil\.example\/miner:1" is not allowed by the operator: images must start with one of "ghcr\.io\/acme\/"/,
    );
    await patchPool(kube, NS, 'miner', { spec: { image: 'ghcr.io/acme/flowpool:1' } });
    await waitForReplicas(kube, NS, 'miner', 1);
    await waitForPool(kube, NS, 'miner', 'Ready no longer ImageNotAllowed', (p) => {
      return condition(p, 'Ready')?.reason !== 'ImageNotAllowed';
    });
  });

  it('renders no Deployment for a ServiceAccount not listed; the listed one and default are fine', async () => {
    await createPool(
      kube,
      NS,
      poolManifest('admin-sa', REDIS, 'workflow:events:admin-sa', {
        image: 'ghcr.io/acme/flowpool:1',
        podTemplate: { serviceAccountName: 'cluster-admin' },
      }),
    );
    await refusedWith(
      'admin-sa',
      'ServiceAccountNotAllowed',
      /^spec\.podTemplate\.serviceAccountName "cluster-admin" is not allowed by the operator in namespace pod-policy/,
    );
    await patchPool(kube, NS, 'admin-sa', {
      spec: { podTemplate: { serviceAccountName: 'workers' } },
    });
    await waitForReplicas(kube, NS, 'admin-sa', 1);
    const deployment = await getDeployment(kube, NS, 'admin-sa');
    expect(deployment?.spec?.template.spec?.serviceAccountName).toBe('workers');
  });
});
