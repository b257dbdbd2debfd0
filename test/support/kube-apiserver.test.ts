import fs from 'node:fs';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiServer } from './kube-apiserver.js';

let kube: KubeApiServer;

beforeAll(async () => {
  kube = await KubeApiServer.start({
    users: [{ name: 'nobody' }, { name: 'root', groups: ['system:masters'] }],
  });
});

afterAll(async () => {
  await kube?.destroy();
});

describe('KubeApiServer', () => {
  it('serves the API to the admin over verified TLS', async () => {
    const core = kube.kubeConfig().makeApiClient(CoreV1Api);
    const namespace = await core.readNamespace({ name: 'default' });
    expect(namespace.metadata?.name).toBe('default');
    const version = await kube.request<{ gitVersion: string }>('GET', '/version');
    expect(version.body.gitVersion).toMatch(/^v1\.\d+\.\d+/);
  });

  it('writes a kubeconfig file child processes can load', async () => {
    const config = new KubeConfig();
    config.loadFromFile(kube.kubeconfigPath);
    expect(config.getCurrentCluster()?.server).toBe(kube.url);
    const namespaces = await config.makeApiClient(CoreV1Api).listNamespace();
    expect(namespaces.items.map((item) => item.metadata?.name)).toContain('kube-system');
  });

  it('authorizes extra users through RBAC', async () => {
    const denied = await kube.request('GET', '/api/v1/namespaces/default/configmaps', {
      user: 'nobody',
    });
    expect(denied.status).toBe(403);
    const allowed = await kube.request('GET', '/api/v1/namespaces/default/configmaps', {
      user: 'root',
    });
    expect(allowed.status).toBe(200);
    const config = new KubeConfig();
    config.loadFromFile(kube.writeKubeconfig('root'));
    expect(config.getCurrentUser()?.token).toBe(kube.tokenFor('root'));
    expect(() => kube.tokenFor('someone-else')).toThrow(/no user 'someone-else'/);
  });

  it('issues service account tokens the server accepts', async () => {
    const created = await kube.request('POST', '/api/v1/namespaces/default/serviceaccounts', {
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot' } },
    });
    expect(created.status).toBe(201);
    const token = await kube.request<{ status: { token: string } }>(
      'POST',
      '/api/v1/namespaces/default/serviceaccounts/robot/token',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} } },
    );
    expect(token.status).toBe(201);
    const review = await kube.request<{ status: { userInfo: { username: string } } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
        token: token.body.status.token,
      },
    );
    expect(review.status, JSON.stringify(review.body)).toBe(201);
    expect(review.body.status.userInfo.username).toBe('system:serviceaccount:default:robot');
    // A Pod can be created without a controller manager having made the default ServiceAccount.
    const pod = await kube.request('POST', '/api/v1/namespaces/default/pods', {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p' },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    });
    expect(pod.status).toBe(201);
  });

  it('removes its files on destroy', async () => {
    const other = await KubeApiServer.start();
    const file = other.kubeconfigPath;
    expect(fs.existsSync(file)).toBe(true);
    await other.destroy();
    expect(fs.existsSync(file)).toBe(false);
    await other.destroy();
  });
});
