/**
 * The chart's ValidatingAdmissionPolicy on a real kube-apiserver: a pool is
 * admitted only when its author could do directly what the pool asks the
 * operator to do: create a Deployment in the namespace, and read every
 * Secret, ConfigMap and ServiceAccount the pool names. Users of different
 * rights (static tokens, bound by RBAC) create pools and read the answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeApiServer as Kube, KubeApiServer } from '../support/kube-apiserver.js';
import {
  apply,
  ensureNamespaces,
  helmTemplate,
  type Manifest,
  waitForPoolsServed,
} from './helm.js';

const NS = 'team-a';
const POOLS = `/apis/flowpool.dev/v1alpha1/namespaces/${NS}/workflowworkerpools`;
const USERS = ['pool-only', 'no-db-secret', 'author', 'no-service-account'] as const;

let kube: Kube;

function pool(name: string, podTemplate: Record<string, unknown> = {}) {
  return {
    apiVersion: 'flowpool.dev/v1alpha1',
    kind: 'WorkflowWorkerPool',
    metadata: { name },
    spec: {
      image: 'flowpool:0.1.0',
      redis: { urlSecretRef: { name: 'redis', key: 'url' } },
      database: { urlSecretRef: { name: 'db', key: 'url' } },
      podTemplate,
    },
  };
}

function role(name: string, rules: unknown[]): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name, namespace: NS },
    rules,
  };
}

function binding(user: string, roles: string[]): Manifest[] {
  return roles.map((roleName) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${user}-${roleName}`, namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
  }));
}

async function create(user: string, body: unknown) {
  return kube.request('POST', POOLS, { user, body });
}

beforeAll(async () => {
  kube = await KubeApiServer.start({ users: USERS.map((name) => ({ name })) });
  const chart = helmTemplate({ releaseName: 'fp', namespace: 'flowpool-system' });
  const admission = chart.filter(
    (m) =>
      m.kind.startsWith('ValidatingAdmissionPolicy') &&
      m.metadata.name === 'fp-flowpool-pool-author',
  );
  expect(admission.map((m) => m.kind).sort()).toEqual([
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
  ]);
  await apply(
    kube,
    chart.filter((m) => m.kind === 'CustomResourceDefinition'),
  );
  await waitForPoolsServed(kube);
  await ensureNamespaces(kube, [NS]);
  const secret = (name: string): Manifest => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: NS },
    stringData: { url: 'redis://redis:6379' },
  });
  await apply(
    kube,
    [
      secret('redis'),
      secret('db'),
      secret('other'),
      {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'workers', namespace: NS },
      },
      role('pools', [
        {
          apiGroups: ['flowpool.dev'],
          resources: ['workflowworkerpools'],
          verbs: ['get', 'create', 'update', 'patch'],
        },
      ]),
      role('deployments', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['create'] }]),
      role('redis-secret', [
        { apiGroups: [''], resources: ['secrets'], resourceNames: ['redis'], verbs: ['get'] },
      ]),
      role('db-secret', [
        { apiGroups: [''], resources: ['secrets'], resourceNames: ['db'], verbs: ['get'] },
      ]),
      role('workers-account', [
        {
          apiGroups: [''],
          resources: ['serviceaccounts'],
          resourceNames: ['workers'],
          verbs: ['get'],
        },
      ]),
      ...binding('pool-only', ['pools']),
      ...binding('no-db-secret', ['pools', 'deployments', 'redis-secret']),
      ...binding('author', [
        'pools',
        'deployments',
        'redis-secret',
        'db-secret',
        'workers-account',
      ]),
      ...binding('no-service-account', ['pools', 'deployments', 'redis-secret', 'db-secret']),
    ],
    NS,
  );
  await apply(kube, admission);
  // The policy takes effect once the server has loaded it: wait for its first refusal.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answer = await kube.request('POST', `${POOLS}?dryRun=All`, {
      user: 'pool-only',
      body: pool('probe'),
    });
    if (answer.status === 403) break;
    if (Date.now() > deadline) {
      throw new Error(`the admission policy did not take effect: ${JSON.stringify(answer.body)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

afterAll(async () => {
  await kube?.destroy();
});

describe("the chart's admission policy on pools", () => {
  it('refuses a user who may create pools but not Deployments, saying why', async () => {
    const answer = await create('pool-only', pool('a'));
    expect(answer.status).toBe(403);
    expect(answer.body.message).toContain(
      'user pool-only may not create Deployments in namespace team-a: a pool runs its workers as a Deployment',
    );
  });

  it('refuses a user who may not get a Secret the pool names, naming the Secret and the field', async () => {
    const answer = await create('no-db-secret', pool('b'));
    expect(answer.status).toBe(403);
    expect(answer.body.message).toContain(
      'user no-db-secret may not get Secret db named by spec.database.urlSecretRef in namespace team-a',
    );
    expect(answer.body.message).not.toContain('Secret redis');
  });

  it('refuses a Secret named by an env entry or an image pull Secret (the first refusal is told)', async () => {
    const byEnv = await create(
      'author',
      pool('c', {
        env: [
          { name: 'LOG_LEVEL', value: 'debug' },
          { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'other', key: 'url' } } },
        ],
      }),
    );
    expect(byEnv.status).toBe(403);
    expect(byEnv.body.message).toContain(
      'user author may not get Secret other named by spec.podTemplate.env[TOKEN].valueFrom.secretKeyRef in namespace team-a',
    );
    const byPull = await create('author', pool('c', { imagePullSecrets: [{ name: 'registry' }] }));
    expect(byPull.status).toBe(403);
    expect(byPull.body.message).toContain(
      'user author may not get Secret registry named by spec.podTemplate.imagePullSecrets in namespace team-a',
    );
  });

  it('checks each of many Secrets, and a pool naming more than 8 needs get on all of them', async () => {
    const env = (count: number) =>
      Array.from({ length: count }, (_, i) => ({
        name: `V${i}`,
        valueFrom: { secretKeyRef: { name: i === count - 1 ? 'other' : 'redis', key: 'url' } },
      }));
    // 2 + 6 = 8 Secrets, the last one refused: named.
    const eight = await create('author', pool('many', { env: env(6) }));
    expect(eight.status).toBe(403);
    expect(eight.body.message).toContain(
      'user author may not get Secret other named by spec.podTemplate.env[V5].valueFrom.secretKeyRef',
    );
    const nine = await create('author', pool('more', { env: env(7) }));
    expect(nine.status).toBe(403);
    expect(nine.body.message).toContain(
      'user author may not get every Secret in namespace team-a, which a pool naming more than 8 Secrets needs',
    );
    expect((await create('admin', pool('more', { env: env(7) }))).status).toBe(201);
  });

  it('refuses a ConfigMap named by an env entry that the user may not get', async () => {
    const answer = await create(
      'author',
      pool('cm', {
        env: [{ name: 'SETTINGS', valueFrom: { configMapKeyRef: { name: 'settings', key: 'a' } } }],
      }),
    );
    expect(answer.status).toBe(403);
    expect(answer.body.message).toContain(
      'user author may not get ConfigMap settings named by spec.podTemplate.env[SETTINGS].valueFrom.configMapKeyRef in namespace team-a',
    );
  });

  it('refuses a ServiceAccount the user may not get', async () => {
    const answer = await create('no-service-account', pool('d', { serviceAccountName: 'workers' }));
    expect(answer.status).toBe(403);
    expect(answer.body.message).toContain(
      'user no-service-account may not get ServiceAccount workers named by spec.podTemplate.serviceAccountName',
    );
  });

  it('admits a user who may do all the pool asks for, and an admin', async () => {
    const byAuthor = await create('author', pool('e', { serviceAccountName: 'workers' }));
    expect(byAuthor.status, JSON.stringify(byAuthor.body)).toBe(201);
    const byAdmin = await create(
      'admin',
      pool('f', {
        serviceAccountName: 'anything',
        env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'other', key: 'url' } } }],
      }),
    );
    expect(byAdmin.status, JSON.stringify(byAdmin.body)).toBe(201);
  });

  it('checks spec changes, not metadata-only updates (labels, finalizers)', async () => {
    const created = await create('admin', pool('g'));
    expect(created.status).toBe(201);
    const labelled = await kube.request('PATCH', `${POOLS}/g`, {
      user: 'pool-only',
      body: { metadata: { labels: { team: 'a' } } },
    });
    expect(labelled.status, JSON.stringify(labelled.body)).toBe(200);
    const changed = await kube.request('PATCH', `${POOLS}/g`, {
      user: 'pool-only',
      body: { spec: { concurrency: 2 } },
    });
    expect(changed.status).toBe(403);
    expect(changed.body.message).toContain('user pool-only may not create Deployments');
  });
});
