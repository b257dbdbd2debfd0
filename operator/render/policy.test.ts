import { describe, expect, it } from 'vitest';
import { API_VERSION, KIND, type WorkflowWorkerPool, withDefaults } from '../api/pool.js';
import { renderWorkerDeployment } from './deployment.js';
import { PoolSpecError } from './errors.js';
import {
  ImageNotAllowedError,
  imageAllowed,
  type PodPolicy,
  ServiceAccountNotAllowedError,
  serviceAccountAllowed,
} from './policy.js';

function pool(image: string, serviceAccountName?: string): WorkflowWorkerPool {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'billing', namespace: 'team-a', uid: 'uid-billing', generation: 1 },
    spec: withDefaults({
      image,
      redis: { url: 'redis://redis:6379' },
      database: { url: 'postgres://db/flowpool' },
      podTemplate: serviceAccountName === undefined ? {} : { serviceAccountName },
    }),
  };
}

const policy: PodPolicy = {
  imagePrefixes: ['ghcr.io/acme/', 'flowpool'],
  serviceAccounts: ['workers', 'team-b/billing-worker'],
};

describe('imageAllowed', () => {
  it.each([
    ['ghcr.io/acme/flowpool:1.0', 'ghcr.io/acme/'],
    ['ghcr.io/acme/other@sha256:abc', 'ghcr.io/acme/'],
    ['flowpool', 'flowpool'],
    ['flowpool:0.1.0', 'flowpool'],
    ['flowpool@sha256:abc', 'flowpool'],
    ['registry:5000/flowpool:1', 'registry:5000/'],
    ['flowpool:0.1.0', 'flowpool:'],
  ])('allows %s under %s', (image, prefix) => {
    expect(imageAllowed(image, prefix)).toBe(true);
  });

  it.each([
    ['flowpool-evil:1', 'flowpool'],
    ['flowpoolx', 'flowpool'],
    ['ghcr.io/acme-evil/flowpool:1', 'ghcr.io/acme'],
    ['ghcr.io/acmex/flowpool:1', 'ghcr.io/acme/'],
    ['docker.io/library/flowpool:1', 'flowpool'],
    ['anything', ''],
  ])('refuses %s under %s (a prefix ends at a repository boundary)', (image, prefix) => {
    expect(imageAllowed(image, prefix)).toBe(false);
  });
});

describe('serviceAccountAllowed', () => {
  it('always allows the default ServiceAccount', () => {
    expect(serviceAccountAllowed('team-a', 'default', [])).toBe(true);
  });
  it('allows a listed name in any namespace, and namespace/name in that namespace only', () => {
    expect(serviceAccountAllowed('team-a', 'workers', policy.serviceAccounts!)).toBe(true);
    expect(serviceAccountAllowed('team-b', 'billing-worker', policy.serviceAccounts!)).toBe(true);
    expect(serviceAccountAllowed('team-a', 'billing-worker', policy.serviceAccounts!)).toBe(false);
    expect(serviceAccountAllowed('team-a', 'cluster-admin-sa', policy.serviceAccounts!)).toBe(
      false,
    );
  });
});

describe('renderWorkerDeployment with a pod policy', () => {
  it('renders a pool whose image and ServiceAccount are allowed', () => {
    const deployment = renderWorkerDeployment(
      pool('ghcr.io/acme/flowpool:1', 'workers'),
      1,
      policy,
    );
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe('workers');
    expect(renderWorkerDeployment(pool('flowpool:0.1.0'), 1, policy).kind).toBe('Deployment');
    expect(renderWorkerDeployment(pool('flowpool:0.1.0', 'default'), 1, policy).kind).toBe(
      'Deployment',
    );
  });

  it('refuses an image outside the prefixes, naming the image, the prefixes and the setting', () => {
    const render = () => renderWorkerDeployment(pool('evil.example/miner:1'), 1, policy);
    expect(render).toThrow(ImageNotAllowedError);
    expect(render).toThrow(PoolSpecError);
    try {
      render();
    } catch (error) {
      expect((error as PoolSpecError).reason).toBe('ImageNotAllowed');
      expect((error as Error).message).toBe(
        'spec.image "evil.example/miner:1" is not allowed by the operator: images must start with one of "ghcr.io/acme/", "flowpool" (the operator setting ALLOWED_IMAGE_PREFIXES, chart value operator.allowedImagePrefixes)',
      );
    }
  });

  it('refuses a ServiceAccount not listed, naming it and the namespace', () => {
    const render = () => renderWorkerDeployment(pool('flowpool:1', 'billing-worker'), 1, policy);
    expect(render).toThrow(ServiceAccountNotAllowedError);
    try {
      render();
    } catch (error) {
      expect((error as PoolSpecError).reason).toBe('ServiceAccountNotAllowed');
      expect((error as Error).message).toMatch(
        /^spec\.podTemplate\.serviceAccountName "billing-worker" is not allowed by the operator in namespace team-a: worker pods may run as the default ServiceAccount or "workers", "team-b\/billing-worker"/,
      );
    }
  });

  it('with the default policy (no ServiceAccount listed) allows only the default ServiceAccount', () => {
    const strict: PodPolicy = { imagePrefixes: undefined, serviceAccounts: [] };
    expect(() => renderWorkerDeployment(pool('any:1', 'workers'), 1, strict)).toThrow(
      /may run as the default ServiceAccount \(/,
    );
    expect(renderWorkerDeployment(pool('any:1'), 1, strict).kind).toBe('Deployment');
  });
});
