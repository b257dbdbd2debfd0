import { performance } from 'node:perf_hooks';
import { CoordinationV1Api, KubeConfig, type V1MicroTime } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../local/process.js';
import { KubeApiServer } from '../../test/support/kube-apiserver.js';
import { TcpProxy } from '../../test/support/tcp-proxy.js';
import { LeaderElector, type LeaderElectorOptions } from './elector.js';
import { DEFAULT_LEASE_FIELD_MANAGER, KubernetesLeaseClient } from './kubernetes-lease-client.js';
import { formatMicroTime, holderRecord } from './lease-rules.js';
import { type LeaderLogger, LeaseConflictError } from './types.js';

/**
 * Leader election against a real kube-apiserver (and etcd), with short
 * timings: lease 2 s, renew deadline 1.5 s, retry 250 ms. A sampler checks
 * every 10 ms, through every test, that no two electors lead at once.
 */

const LEASE_MS = 2000;
const RENEW_DEADLINE_MS = 1500;
const RETRY_MS = 250;
const NAMESPACE = 'default';
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

interface RawLease {
  metadata: {
    resourceVersion: string;
    labels?: Record<string, string>;
    managedFields?: Array<{ manager?: string }>;
  };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

interface Replica {
  elector: LeaderElector;
  events: string[];
  signals: AbortSignal[];
  startedAt: number[];
  stoppedAt: number[];
}

let kube: KubeApiServer;
let replicas: Replica[] = [];
let proxies: TcpProxy[] = [];
let violations: string[] = [];
let sampler: NodeJS.Timeout | undefined;
let logs: string[] = [];
let leaseCounter = 0;

const now = () => performance.now();

beforeAll(async () => {
  kube = await KubeApiServer.start({ users: [{ name: 'nobody' }] });
});

afterAll(async () => {
  await kube?.destroy();
});

beforeEach((context) => {
  replicas = [];
  proxies = [];
  violations = [];
  logs = [];
  sampler = setInterval(sample, 10);
  context.onTestFailed(() => {
    console.log(`--- elector logs\n${logs.join('\n')}`);
  });
});

afterEach(async () => {
  clearInterval(sampler);
  await Promise.all(replicas.map((replica) => replica.elector.stop()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  expect(violations).toEqual([]);
});

/** Records a violation whenever two electors say they lead at the same moment. */
function sample(): void {
  const leaders = replicas.filter((replica) => replica.elector.isLeader());
  if (leaders.length > 1) {
    violations.push(
      `${Math.round(now())} ms: ${leaders.map((replica) => replica.elector.identity).join(' and ')} both lead`,
    );
  }
}

function freshLeaseName(): string {
  leaseCounter += 1;
  return `flowpool-leader-${leaseCounter}`;
}

function logger(identity: string): LeaderLogger {
  const line =
    (level: string) =>
    (object: object, message: string): void => {
      logs.push(`${Math.round(now())} ${identity} ${level} ${message} ${JSON.stringify(object)}`);
    };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

function replica(
  identity: string,
  lease: string,
  extra: Partial<LeaderElectorOptions> = {},
): Replica {
  const events: string[] = [];
  const signals: AbortSignal[] = [];
  const startedAt: number[] = [];
  const stoppedAt: number[] = [];
  const elector = new LeaderElector({
    kubeConfig: kube.kubeConfig(),
    namespace: NAMESPACE,
    name: lease,
    identity,
    leaseDurationMs: LEASE_MS,
    renewDeadlineMs: RENEW_DEADLINE_MS,
    retryPeriodMs: RETRY_MS,
    logger: logger(identity),
    ...extra,
  })
    .onStartedLeading((signal) => {
      startedAt.push(now());
      signals.push(signal);
      events.push('started');
    })
    .onStoppedLeading(() => {
      stoppedAt.push(now());
      events.push('stopped');
    });
  const made = { elector, events, signals, startedAt, stoppedAt };
  replicas.push(made);
  return made;
}

/** A kubeconfig for the admin that reaches the apiserver through a proxy the test controls. */
async function proxiedKubeConfig(): Promise<{ kubeConfig: KubeConfig; proxy: TcpProxy }> {
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(kube.url).port) });
  proxies.push(proxy);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: 'proxied',
        server: `https://${proxy.address}`,
        caData: Buffer.from(kube.caCertificate).toString('base64'),
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'admin', token: kube.tokenFor() }],
    contexts: [{ name: 'proxied', cluster: 'proxied', user: 'admin' }],
    currentContext: 'proxied',
  });
  return { kubeConfig, proxy };
}

async function readLease(name: string): Promise<RawLease> {
  const answer = await kube.request<RawLease>(
    'GET',
    `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${name}`,
  );
  expect(answer.status).toBe(200);
  return answer.body;
}

/** Waits, checking for two leaders at every look, with a 10 ms poll. */
function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  return waitFor(
    what,
    async () => {
      sample();
      return check();
    },
    { timeoutMs, intervalMs: 10 },
  );
}

/** Waits until the holder has renewed `times` more times (renewTime moved), as seen by the server. */
async function renewals(name: string, times: number): Promise<void> {
  let last = (await readLease(name)).spec.renewTime;
  let seen = 0;
  await until(
    `${times} renewals of ${name}`,
    async () => {
      const current = (await readLease(name)).spec.renewTime;
      if (current !== last) {
        seen += 1;
        last = current;
      }
      return seen >= times;
    },
    times * RETRY_MS * 4 + 5_000,
  );
}

describe('KubernetesLeaseClient against a real kube-apiserver', () => {
  it('creates, reads and replaces a Lease, MicroTime in the server’s format', async () => {
    const name = freshLeaseName();
    const client = new KubernetesLeaseClient({
      kubeConfig: kube.kubeConfig(),
      namespace: NAMESPACE,
      name,
    });
    expect(client.description).toBe(`${NAMESPACE}/${name}`);
    expect(await client.get()).toBeUndefined();

    const record = holderRecord(undefined, 'a', 2, new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 123)));
    const created = await client.create(record);
    expect(created.record).toEqual(record);
    const raw = await readLease(name);
    expect(raw.spec).toEqual({
      holderIdentity: 'a',
      leaseDurationSeconds: 2,
      acquireTime: '2030-01-01T00:00:00.123000Z',
      renewTime: '2030-01-01T00:00:00.123000Z',
      leaseTransitions: 0,
    });
    expect(raw.metadata.managedFields?.map((field) => field.manager)).toContain(
      DEFAULT_LEASE_FIELD_MANAGER,
    );
    await expect(client.create(record)).rejects.toBeInstanceOf(LeaseConflictError);

    // Someone else labels it; a replace keeps the label.
    const labelled = await kube.request(
      'PATCH',
      `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${name}`,
      { body: { metadata: { labels: { team: 'ops' } } } },
    );
    expect(labelled.status).toBe(200);
    const read = (await client.get())!;
    expect(read.record).toEqual(record);
    const renewed = {
      ...record,
      renewTime: formatMicroTime(new Date(Date.UTC(2030, 0, 1, 0, 0, 1))),
    };
    const replaced = await client.replace(read, renewed);
    expect(replaced.record).toEqual(renewed);
    expect(Number(replaced.resourceVersion)).toBeGreaterThan(Number(read.resourceVersion));
    const after = await readLease(name);
    expect(after.metadata.labels).toEqual({ team: 'ops' });
    expect(after.spec.renewTime).toBe('2030-01-01T00:00:01.000000Z');

    // A write based on an old resourceVersion is a conflict.
    await expect(client.replace(read, record)).rejects.toBeInstanceOf(LeaseConflictError);
  });

  it('would be refused by the server with the typed model’s own Date (why the adapter sends strings)', async () => {
    const api = kube.kubeConfig().makeApiClient(CoordinationV1Api);
    const attempt = api.createNamespacedLease({
      namespace: NAMESPACE,
      body: {
        metadata: { name: freshLeaseName() },
        spec: { holderIdentity: 'a', renewTime: new Date() as V1MicroTime },
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: 400 });
    await expect(attempt).rejects.toThrow(/2006-01-02T15:04:05.000000Z07:00/);
  });

  it('gives up a call when its signal aborts, and names the failure otherwise', async () => {
    const { kubeConfig, proxy } = await proxiedKubeConfig();
    const name = freshLeaseName();
    const client = new KubernetesLeaseClient({ kubeConfig, namespace: NAMESPACE, name });
    await proxy.setMode('blackhole');
    const started = now();
    await expect(client.get({ signal: AbortSignal.timeout(200) })).rejects.toThrow(/abort/i);
    expect(now() - started).toBeLessThan(2_000);

    const config = new KubeConfig();
    config.loadFromFile(kube.writeKubeconfig('nobody'));
    const forbidden = new KubernetesLeaseClient({ kubeConfig: config, namespace: NAMESPACE, name });
    await expect(forbidden.get()).rejects.toThrow(
      new RegExp(`read lease ${NAMESPACE}/${name} failed \\(HTTP 403\\): .*forbidden`),
    );
  });
});

describe('LeaderElector against a real kube-apiserver', () => {
  it('one replica acquires; a second stays passive while the first renews', async () => {
    const name = freshLeaseName();
    const a = replica('a', name);
    a.elector.start();
    await until('a to lead', () => a.elector.isLeader());
    const first = await readLease(name);
    expect(first.spec).toMatchObject({
      holderIdentity: 'a',
      leaseDurationSeconds: 2,
      leaseTransitions: 0,
    });
    expect(first.spec.acquireTime).toMatch(MICRO_TIME);
    expect(first.spec.renewTime).toMatch(MICRO_TIME);

    const b = replica('b', name);
    b.elector.start();
    await until('b to see a as the holder', () => b.elector.leaderIdentity() === 'a');
    // Longer than two lease durations of renewals, with b watching.
    await renewals(name, Math.ceil((2 * LEASE_MS) / RETRY_MS));
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.isLeader()).toBe(false);
    expect(b.elector.state).toBe('candidate');
    expect(b.events).toEqual([]);
    const later = await readLease(name);
    expect(later.spec).toMatchObject({
      holderIdentity: 'a',
      acquireTime: first.spec.acquireTime,
      leaseTransitions: 0,
    });
    expect(Date.parse(later.spec.renewTime!)).toBeGreaterThan(Date.parse(first.spec.renewTime!));
  });

  it('when the leader stops it releases the Lease and the second takes over at once', async () => {
    const name = freshLeaseName();
    const a = replica('a', name);
    const b = replica('b', name);
    a.elector.start();
    await until('a to lead', () => a.elector.isLeader());
    b.elector.start();
    await until('b to see a as the holder', () => b.elector.leaderIdentity() === 'a');

    await a.elector.stop();
    const stoppedAt = now();
    expect(a.elector.state).toBe('stopped');
    expect(a.events).toEqual(['started', 'stopped']);
    expect(a.signals[0]?.aborted).toBe(true);

    await until('b to lead', () => b.elector.isLeader());
    const handover = now() - stoppedAt;
    // Well inside a lease duration: b did not wait for the lease to expire.
    expect(handover).toBeLessThan(LEASE_MS / 2);
    const lease = await readLease(name);
    expect(lease.spec).toMatchObject({
      holderIdentity: 'b',
      leaseDurationSeconds: 2,
      leaseTransitions: 1,
    });
    await a.elector.stop();
  });

  it('a frozen leader (no release) is succeeded only after the lease duration', async () => {
    const name = freshLeaseName();
    const { kubeConfig, proxy } = await proxiedKubeConfig();
    const a = replica('a', name, { kubeConfig });
    const b = replica('b', name);
    a.elector.start();
    await until('a to lead', () => a.elector.isLeader());
    b.elector.start();
    await until('b to see a as the holder', () => b.elector.leaderIdentity() === 'a');
    await renewals(name, 2);

    // From now on nothing a sends arrives, and nothing comes back.
    await proxy.setMode('blackhole');
    const frozenAt = now();
    await until('b to lead', () => b.elector.isLeader(), 10_000);
    const takeover = now() - frozenAt;
    // a's last renewal left at most one retry period before the freeze, and b
    // then waits a full lease duration from when it saw that renewal.
    expect(takeover).toBeGreaterThanOrEqual(LEASE_MS - RETRY_MS - 150);
    expect(takeover).toBeLessThanOrEqual(LEASE_MS + 3 * RETRY_MS + 500);
    // a had stepped down on its own before that, at its renew deadline.
    expect(a.stoppedAt[0]).toBeDefined();
    expect(a.stoppedAt[0]! - frozenAt).toBeLessThanOrEqual(RENEW_DEADLINE_MS + 100);
    expect(a.stoppedAt[0]!).toBeLessThan(b.startedAt[0]!);
    const lease = await readLease(name);
    expect(lease.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    console.log(
      `leader election: frozen leader succeeded after ${Math.round(takeover)} ms (lease ${LEASE_MS} ms); it stepped down after ${Math.round(a.stoppedAt[0]! - frozenAt)} ms`,
    );
  });

  it('a leader whose Lease is taken by someone else stops at its next renewal', async () => {
    const name = freshLeaseName();
    const a = replica('a', name);
    a.elector.start();
    await until('a to lead', () => a.elector.isLeader());

    let takenAt = 0;
    await until('the intruder to write the Lease', async () => {
      const current = await readLease(name);
      const answer = await kube.request(
        'PUT',
        `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${name}`,
        {
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: {
              name,
              namespace: NAMESPACE,
              resourceVersion: current.metadata.resourceVersion,
            },
            spec: {
              ...current.spec,
              holderIdentity: 'intruder',
              renewTime: formatMicroTime(new Date()),
              leaseTransitions: (current.spec.leaseTransitions ?? 0) + 1,
            },
          },
        },
      );
      takenAt = now();
      return answer.status === 200; // 409 when a renewed in between: try again
    });

    await until('a to stop leading', () => !a.elector.isLeader());
    expect(now() - takenAt).toBeLessThan(RENEW_DEADLINE_MS);
    await until('onStoppedLeading', () => a.events.length === 2);
    expect(a.events).toEqual(['started', 'stopped']);
    expect(a.signals[0]?.aborted).toBe(true);
    expect(String(a.signals[0]?.reason)).toMatch(/taken by intruder/);
    expect(a.elector.state).toBe('candidate');
    // It did not write over the intruder's live claim.
    expect((await readLease(name)).spec.holderIdentity).toBe('intruder');
  });

  it.each([
    ['refused', 'refuse'],
    ['unanswered', 'blackhole'],
  ] as const)(
    'a leader whose calls are %s stops leading within the renew deadline',
    async (_label, mode) => {
      const name = freshLeaseName();
      const { kubeConfig, proxy } = await proxiedKubeConfig();
      const a = replica('a', name, { kubeConfig });
      const b = replica('b', name);
      a.elector.start();
      await until('a to lead', () => a.elector.isLeader());
      b.elector.start();
      await until('b to see a as the holder', () => b.elector.leaderIdentity() === 'a');
      await renewals(name, 2);

      // a's last renewal is at least as recent as what the lease shows now
      // (renewTime is stamped by a's wall clock when it sends a renewal).
      const renewedBy = Date.parse((await readLease(name)).spec.renewTime ?? '');
      await proxy.setMode(mode);
      const cutAt = Date.now();
      await until('a to stop leading', () => !a.elector.isLeader());
      const steppedDownAt = Date.now();
      // Not before the deadline has passed since a renewal that succeeded…
      expect(steppedDownAt - renewedBy).toBeGreaterThanOrEqual(RENEW_DEADLINE_MS - 20);
      // …and within it after the cut (bounded far from the expected figure:
      // on a loaded machine the check that notices runs late, never early).
      expect(steppedDownAt - cutAt).toBeLessThanOrEqual(RENEW_DEADLINE_MS + 2_000);
      await until('onStoppedLeading', () => a.events.length === 2);
      expect(a.events).toEqual(['started', 'stopped']);
      expect(String(a.signals[0]?.reason)).toMatch(/could not renew the lease for 1500 ms/);

      // The other replica takes over once the lease has run out, not before.
      await until('b to lead', () => b.elector.isLeader());
      expect(b.startedAt[0]! - a.stoppedAt[0]!).toBeGreaterThan(0);
      expect((await readLease(name)).spec.holderIdentity).toBe('b');

      // Back on the network, a stays a candidate behind b.
      await proxy.setMode('forward');
      await until('a to see b as the holder', () => a.elector.leaderIdentity() === 'b');
      expect(a.elector.isLeader()).toBe(false);
    },
  );

  it('never has two leaders through a series of handovers', async () => {
    const name = freshLeaseName();
    let next = 0;
    const spawn = () => {
      const made = replica(`r${next++}`, name);
      made.elector.start();
      return made;
    };
    for (let i = 0; i < 3; i++) spawn();
    const leaders: string[] = [];
    for (let round = 0; round < 4; round++) {
      let leader: Replica | undefined;
      await until(`round ${round}: a leader`, () => {
        leader = replicas.find((candidate) => candidate.elector.isLeader());
        return leader !== undefined;
      });
      leaders.push(leader!.elector.identity);
      await leader!.elector.stop();
      spawn();
    }
    expect(new Set(leaders).size).toBe(4);
    await until('a fifth leader', () => replicas.some((candidate) => candidate.elector.isLeader()));
    const lease = await readLease(name);
    expect(lease.spec.leaseTransitions).toBe(4);
  });
});
