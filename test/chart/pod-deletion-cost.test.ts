/**
 * The chart's guard on the operator's pod patches, on a real kube-apiserver.
 * RBAC cannot narrow `patch` on pods to one annotation, so the chart ships a
 * ValidatingAdmissionPolicy (<fullname>-pod-deletion-cost): updates of pods
 * by the operator's ServiceAccount are admitted only on worker pods and only
 * when nothing but controller.kubernetes.io/pod-deletion-cost changed.
 * The operator's identity and rules are the chart's defaults, its token one
 * from the TokenRequest API; an admin's patches show nobody else is checked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiServer } from '../support/kube-apiserver.js';
import { apply, ensureNamespaces, helmTemplate, type Manifest, named } from './helm.js';

const RELEASE_NS = 'flowpool-system';
const NS = 'team-a';
const COST = 'controller.kubernetes.io/pod-deletion-cost';
const OPERATOR_SA = 'fp-flowpool-operator';
const POLICY = 'fp-flowpool-pod-deletion-cost';
const PODS = `/api/v1/namespaces/${NS}/pods`;
/** As the operator sends it (operator/kube/kube-api.ts annotatePod). */
const AS_OPERATOR = '?fieldManager=flowpool-operator';

interface PodMeta {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
}

let kube: KubeApiServer;
let operatorToken: string;

function pod(name: string, labels: Record<string, string>): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels, annotations: { 'team.example/owner': 'a' } },
    spec: { containers: [{ name: 'worker', image: 'flowpool:0.1.0' }] },
  };
}

const WORKER_LABELS = {
  'app.kubernetes.io/name': 'flowpool-worker',
  'app.kubernetes.io/instance': 'orders',
  'flowpool.dev/pool': 'orders',
};

/** A merge patch of `name` as the operator's ServiceAccount (or as `user`). */
async function patch(name: string, body: unknown, as: { user?: string; dryRun?: boolean } = {}) {
  const query = `${AS_OPERATOR}${as.dryRun ? '&dryRun=All' : ''}`;
  return kube.request<{ message?: string; metadata?: PodMeta }>(
    'PATCH',
    `${PODS}/${name}${query}`,
    as.user ? { user: as.user, body } : { token: operatorToken, body },
  );
}

async function read(name: string): Promise<PodMeta> {
  const answer = await kube.request<{ metadata: PodMeta }>('GET', `${PODS}/${name}`);
  expect(answer.status).toBe(200);
  return answer.body.metadata;
}

beforeAll(async () => {
  kube = await KubeApiServer.start();
  // The chart as installed by default, namespace and all: the guard comes with it.
  const chart = helmTemplate({ releaseName: 'fp', namespace: RELEASE_NS });
  await ensureNamespaces(kube, [RELEASE_NS, NS]);
  await apply(
    kube,
    [
      named(chart, 'ServiceAccount', OPERATOR_SA),
      named(chart, 'ClusterRole', 'fp-flowpool-operator'),
      named(chart, 'ClusterRoleBinding', 'fp-flowpool-operator'),
    ],
    RELEASE_NS,
  );
  await apply(
    kube,
    [
      pod('worker', WORKER_LABELS),
      pod('other', { app: 'other' }),
      // Only so that the owner-reference admission plugin leaves the decision to the guard.
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'delete-worker' },
        rules: [
          { apiGroups: [''], resources: ['pods'], resourceNames: ['worker'], verbs: ['delete'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'delete-worker' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'delete-worker' },
        subjects: [{ kind: 'ServiceAccount', name: OPERATOR_SA, namespace: RELEASE_NS }],
      },
    ],
    NS,
  );
  await apply(kube, [
    named(chart, 'ValidatingAdmissionPolicy', POLICY),
    named(chart, 'ValidatingAdmissionPolicyBinding', POLICY),
  ]);
  operatorToken = await kube.serviceAccountToken(RELEASE_NS, OPERATOR_SA);
  // The policy takes effect once the server has loaded it: wait for its first refusal.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answer = await patch(
      'worker',
      { metadata: { labels: { probe: 'x' } } },
      { dryRun: true },
    );
    if (answer.status === 403) break;
    if (Date.now() > deadline) {
      throw new Error(`the pod guard did not take effect: ${JSON.stringify(answer.body)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

afterAll(async () => {
  await kube?.destroy();
});

describe("the chart's guard on the operator's pod patches", () => {
  it("is needed: the operator's RBAC alone lets it patch any pod", async () => {
    const review = await kube.request<{ status: { allowed: boolean } }>(
      'POST',
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: `system:serviceaccount:${RELEASE_NS}:${OPERATOR_SA}`,
            resourceAttributes: { namespace: NS, verb: 'patch', resource: 'pods', name: 'other' },
          },
        },
      },
    );
    expect(review.body.status.allowed).toBe(true);
  });

  it('admits setting, changing and removing the deletion cost of a worker pod', async () => {
    const set = await patch('worker', { metadata: { annotations: { [COST]: '-100' } } });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect((await read('worker')).annotations).toEqual({
      'team.example/owner': 'a',
      [COST]: '-100',
    });
    const changed = await patch('worker', { metadata: { annotations: { [COST]: '7' } } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect((await read('worker')).annotations?.[COST]).toBe('7');
    const removed = await patch('worker', { metadata: { annotations: { [COST]: null } } });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect((await read('worker')).annotations).toEqual({ 'team.example/owner': 'a' });
  });

  it('refuses a label change, even alongside the deletion cost, saying so', async () => {
    const answer = await patch('worker', {
      metadata: { labels: { 'flowpool.dev/pool': 'elsewhere' }, annotations: { [COST]: '1' } },
    });
    expect(answer.status).toBe(403);
    expect(answer.body.message).toContain(
      `may change only the ${COST} annotation of a pod: refused a change to the labels of pod team-a/worker`,
    );
    const after = await read('worker');
    expect(after.labels).toEqual(WORKER_LABELS);
    expect(after.annotations?.[COST]).toBeUndefined();
  });

  it('refuses adding, changing or removing another annotation, naming it', async () => {
    for (const [annotations, key] of [
      [{ 'team.example/owner': 'b' }, 'team.example/owner'],
      [{ 'team.example/owner': null }, 'team.example/owner'],
      [{ 'example.com/extra': 'x', [COST]: '1' }, 'example.com/extra'],
    ] as const) {
      const answer = await patch('worker', { metadata: { annotations } });
      expect(answer.status, JSON.stringify(annotations)).toBe(403);
      expect(answer.body.message).toContain(
        `refused a change to the annotations ${key} of pod team-a/worker`,
      );
    }
    expect((await read('worker')).annotations).toEqual({ 'team.example/owner': 'a' });
  });

  it('refuses a change of finalizers, owner references or spec', async () => {
    const finalizers = await patch('worker', { metadata: { finalizers: ['example.com/hold'] } });
    expect(finalizers.status).toBe(403);
    expect(finalizers.body.message).toContain(
      'refused a change to the finalizers of pod team-a/worker',
    );
    const owners = await patch('worker', {
      metadata: {
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            name: 'x',
            uid: '00000000-0000-0000-0000-000000000001',
          },
        ],
      },
    });
    // This server, like OpenShift, runs OwnerReferencesPermissionEnforcement, which
    // lets only who may delete the pod change its owners; the operator may delete
    // this one (a Role of this test), so what refuses it is the guard.
    expect(owners.status).toBe(403);
    expect(owners.body.message).toContain(
      'refused a change to the owner references of pod team-a/worker',
    );
    const spec = await kube.request<{ message?: string }>('PATCH', `${PODS}/worker${AS_OPERATOR}`, {
      token: operatorToken,
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/containers/0/image', value: 'evil:1' }],
    });
    expect(spec.status).toBe(403);
    expect(spec.body.message).toContain('refused a change to the spec of pod team-a/worker');
    const after = await read('worker');
    expect(after.finalizers).toBeUndefined();
    expect(after.ownerReferences).toBeUndefined();
  });

  it('refuses even the deletion cost on a pod that is not a worker', async () => {
    const answer = await patch('other', { metadata: { annotations: { [COST]: '-100' } } });
    expect(answer.status).toBe(403);
    expect(answer.body.message).toContain(
      'the flowpool operator may patch only worker pods (label app.kubernetes.io/name: flowpool-worker): refused a change to pod team-a/other',
    );
    expect((await read('other')).annotations?.[COST]).toBeUndefined();
  });

  it("leaves an admin's patches alone", async () => {
    const labelled = await patch(
      'worker',
      { metadata: { labels: { team: 'a' }, annotations: { 'team.example/owner': 'b' } } },
      { user: 'admin' },
    );
    expect(labelled.status, JSON.stringify(labelled.body)).toBe(200);
    const other = await patch(
      'other',
      { metadata: { labels: { team: 'a' }, annotations: { [COST]: '5' } } },
      { user: 'admin' },
    );
    expect(other.status, JSON.stringify(other.body)).toBe(200);
    expect(await read('other')).toMatchObject({
      labels: { app: 'other', team: 'a' },
      annotations: { [COST]: '5' },
    });
  });
});
