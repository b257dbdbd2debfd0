import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configFailure } from '../test/support/config-error.js';
import { loadOperatorConfig } from './config.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-operator-config-'));
const kubeconfig = path.join(dir, 'kubeconfig');
fs.writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n');

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const base = { KUBECONFIG: kubeconfig, LEASE_NAMESPACE: 'flowpool-system' };

const failure = (env: Record<string, string>) => configFailure(() => loadOperatorConfig(env));

describe('loadOperatorConfig', () => {
  it('has defaults for everything but where the cluster is', () => {
    expect(loadOperatorConfig({ ...base, POD_NAME: 'operator-0' })).toEqual({
      kube: { kind: 'file', path: kubeconfig },
      watchNamespace: undefined,
      port: 8080,
      logLevel: 'info',
      leaderElection: true,
      leaseNamespace: 'flowpool-system',
      leaseName: 'flowpool-operator',
      leaseCreate: true,
      identity: 'operator-0',
      resyncSeconds: 300,
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 2,
      podDeletionCost: true,
      podPolicy: { imagePrefixes: undefined, serviceAccounts: [] },
    });
    expect(loadOperatorConfig({ ...base, POD_DELETION_COST: 'false' }).podDeletionCost).toBe(false);
  });

  it('reads the images and ServiceAccounts pools may ask for', () => {
    expect(
      loadOperatorConfig({
        ...base,
        ALLOWED_IMAGE_PREFIXES: 'ghcr.io/acme/, flowpool',
        ALLOWED_SERVICE_ACCOUNTS: 'workers,team-a/billing',
      }).podPolicy,
    ).toEqual({
      imagePrefixes: ['ghcr.io/acme/', 'flowpool'],
      serviceAccounts: ['workers', 'team-a/billing'],
    });
    expect(
      loadOperatorConfig({ ...base, ALLOWED_IMAGE_PREFIXES: '*', ALLOWED_SERVICE_ACCOUNTS: '*' })
        .podPolicy,
    ).toEqual({ imagePrefixes: undefined, serviceAccounts: undefined });
    // Set but empty: nothing listed, so no image at all (the chart always lists one).
    expect(
      loadOperatorConfig({ ...base, ALLOWED_SERVICE_ACCOUNTS: ' ' }).podPolicy.serviceAccounts,
    ).toEqual([]);
    expect(failure({ ...base, ALLOWED_SERVICE_ACCOUNTS: 'Workers' }).message).toMatch(
      /ALLOWED_SERVICE_ACCOUNTS.*"Workers"/,
    );
    expect(failure({ ...base, ALLOWED_IMAGE_PREFIXES: '*,flowpool' }).message).toMatch(
      /ALLOWED_IMAGE_PREFIXES.*\* alone/,
    );
  });

  it('takes the in-cluster config in a pod, and the lease namespace from POD_NAMESPACE', () => {
    const config = loadOperatorConfig({
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      POD_NAMESPACE: 'ops',
      WATCH_NAMESPACE: 'team-a',
      LEADER_ELECTION: 'true',
      PORT: '9090',
    });
    expect(config).toMatchObject({
      kube: { kind: 'in-cluster' },
      leaseNamespace: 'ops',
      watchNamespace: 'team-a',
      port: 9090,
    });
  });

  it('needs no lease namespace without leader election', () => {
    expect(loadOperatorConfig({ KUBECONFIG: kubeconfig, LEADER_ELECTION: 'false' })).toMatchObject({
      leaderElection: false,
      leaseNamespace: undefined,
    });
  });

  it.each([
    [{}, 'KUBECONFIG', 'not a pod'],
    [{ KUBECONFIG: '/no/such/file' }, 'KUBECONFIG', 'no such file'],
    [{ ...base, WATCH_NAMESPACE: 'Team_A' }, 'WATCH_NAMESPACE', 'namespace'],
    [{ ...base, LEADER_ELECTION: 'maybe' }, 'LEADER_ELECTION', 'true or false'],
    [{ KUBECONFIG: kubeconfig }, 'LEASE_NAMESPACE', 'required'],
    [{ ...base, PORT: 'http' }, 'PORT', 'whole number'],
    [{ ...base, LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'one of'],
    [{ ...base, LEASE_NAME: 'No Lease' }, 'LEASE_NAME', 'Lease name'],
    [
      { ...base, LEASE_DURATION_SECONDS: '5', LEASE_RENEW_DEADLINE_SECONDS: '5' },
      'LEASE_RENEW_DEADLINE_SECONDS',
      'less than',
    ],
    [
      { ...base, LEASE_RENEW_DEADLINE_SECONDS: '2', LEASE_RETRY_PERIOD_SECONDS: '2' },
      'LEASE_RETRY_PERIOD_SECONDS',
      'less than',
    ],
  ])('rejects %j naming %s', (env, variable, expected) => {
    const error = failure(env as Record<string, string>);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(expected);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
  });
});
