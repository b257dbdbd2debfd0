import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort, ServerProcess, waitFor } from '../../local/process.js';
import { requireTestTools } from '../tools/paths.js';

/** A user the server knows by a static bearer token. */
export interface KubeUser {
  name: string;
  /** Groups the user belongs to, e.g. `system:masters` for full access. */
  groups?: string[];
}

export interface KubeApiServerOptions {
  /**
   * Extra users besides `admin` (who is in `system:masters`). Static tokens
   * are read once at start, so every user must be named here.
   */
  users?: KubeUser[];
  /** Extra kube-apiserver flags, e.g. `--feature-gates=...`; later flags win. */
  extraArgs?: string[];
  /** Binaries to run instead of the ones test/tools/build.sh caches. */
  binaries?: { kubeApiserver?: string; etcd?: string };
  /** How long to wait for each server to become ready. */
  readyTimeoutMs?: number;
}

export const ADMIN_USER = 'admin';

/** The body of an API error (meta/v1 Status). */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * A throwaway control plane for integration tests: one etcd and one
 * kube-apiserver on free loopback ports, their data in a temporary folder.
 * Nothing runs controllers, so objects are stored and validated (CRDs,
 * CEL rules, RBAC, subresources) but Deployments never get Pods.
 *
 * ```ts
 * const kube = await KubeApiServer.start();
 * const api = kube.kubeConfig().makeApiClient(CoreV1Api);
 * // ... child processes can use kube.kubeconfigPath
 * await kube.destroy();
 * ```
 */
export class KubeApiServer {
  private constructor(
    /** The API server's base URL, `https://127.0.0.1:<port>`. */
    readonly url: string,
    /** PEM of the certificates the server presents (self-signed with its own CA). */
    readonly caCertificate: string,
    /** A kubeconfig file for the admin user, for child processes and kubectl. */
    readonly kubeconfigPath: string,
    private readonly dir: string,
    private readonly tokens: Map<string, string>,
    private readonly etcd: ServerProcess,
    private readonly apiserver: ServerProcess,
  ) {}

  /** Starts etcd and kube-apiserver and resolves once /readyz answers ok. */
  static async start(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const given = options.binaries ?? {};
    const cached =
      given.kubeApiserver && given.etcd ? undefined : requireTestTools(['kubeApiserver', 'etcd']);
    const binaries = {
      kubeApiserver: given.kubeApiserver ?? cached!.kubeApiserver,
      etcd: given.etcd ?? cached!.etcd,
    };
    const users = [{ name: ADMIN_USER, groups: ['system:masters'] }, ...(options.users ?? [])];
    const names = new Set<string>();
    for (const user of users) {
      if (names.has(user.name))
        throw new Error(`KubeApiServer: user '${user.name}' is named twice`);
      names.add(user.name);
    }
    const timeoutMs = options.readyTimeoutMs ?? 120_000;

    // A free port can be taken by someone else before the server binds it;
    // such a start fails fast, so try again with fresh ports.
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-kube-'));
      try {
        return await KubeApiServer.startIn(
          dir,
          binaries,
          users,
          options.extraArgs ?? [],
          timeoutMs,
        );
      } catch (error) {
        lastError = error;
        fs.rmSync(dir, { recursive: true, force: true });
        if (!(error instanceof Error && /address already in use/i.test(error.message))) throw error;
      }
    }
    throw lastError;
  }

  private static async startIn(
    dir: string,
    binaries: { kubeApiserver: string; etcd: string },
    users: KubeUser[],
    extraArgs: string[],
    timeoutMs: number,
  ): Promise<KubeApiServer> {
    const [etcdClientPort, etcdPeerPort, securePort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
    ]);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = new ServerProcess(
      'etcd',
      binaries.etcd,
      [
        '--name=default',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=default=${etcdPeerUrl}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      { cwd: dir },
    );
    etcd.start();
    try {
      await waitUntilServing(etcd, 'etcd', timeoutMs, async () => {
        const answer = await fetch(`${etcdUrl}/health`);
        return answer.ok && ((await answer.json()) as { health?: string }).health === 'true';
      });
    } catch (error) {
      await etcd.stop('SIGKILL');
      throw error;
    }

    const pki = path.join(dir, 'pki');
    fs.mkdirSync(pki);
    const serviceAccountKeys = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const publicKeyFile = path.join(pki, 'service-account.pub');
    const privateKeyFile = path.join(pki, 'service-account.key');
    fs.writeFileSync(publicKeyFile, serviceAccountKeys.publicKey, { mode: 0o600 });
    fs.writeFileSync(privateKeyFile, serviceAccountKeys.privateKey, { mode: 0o600 });

    const tokens = new Map<string, string>();
    const tokenLines = users.map((user, index) => {
      const token = randomBytes(24).toString('hex');
      tokens.set(user.name, token);
      const groups = (user.groups ?? []).join(',');
      return `${token},${user.name},uid-${index}${groups ? `,"${groups}"` : ''}`;
    });
    const tokenFile = path.join(pki, 'tokens.csv');
    fs.writeFileSync(tokenFile, `${tokenLines.join('\n')}\n`, { mode: 0o600 });

    const certDir = path.join(pki, 'serving');
    const url = `https://127.0.0.1:${securePort}`;
    const apiserver = new ServerProcess(
      'kube-apiserver',
      binaries.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${securePort}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=RBAC',
        `--service-account-key-file=${publicKeyFile}`,
        `--service-account-signing-key-file=${privateKeyFile}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        '--service-cluster-ip-range=10.0.0.0/24',
        // Nothing creates the default ServiceAccount without a controller
        // manager; without this, Pods could not be created in tests.
        '--disable-admission-plugins=ServiceAccount',
        // As on clusters that enforce it (OpenShift): an owner reference with
        // blockOwnerDeletion needs update on the owner's finalizers.
        '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
        '--allow-privileged=true',
        '--profiling=false',
        ...extraArgs,
      ],
      { cwd: dir },
    );
    apiserver.start();

    const servingCertificate = path.join(certDir, 'apiserver.crt');
    const adminToken = tokens.get(ADMIN_USER)!;
    let caCertificate = '';
    try {
      await waitUntilServing(apiserver, 'kube-apiserver', timeoutMs, async () => {
        if (!fs.existsSync(servingCertificate)) return false;
        caCertificate = fs.readFileSync(servingCertificate, 'utf8');
        const readyz = await httpsGet(url, '/readyz', caCertificate, adminToken);
        if (readyz.status !== 200) return false;
        // Readiness does not wait for the bootstrap controller; tests expect
        // the default namespace to be there.
        const namespace = await httpsGet(
          url,
          '/api/v1/namespaces/default',
          caCertificate,
          adminToken,
        );
        return namespace.status === 200;
      });
    } catch (error) {
      await Promise.all([apiserver.stop('SIGKILL'), etcd.stop('SIGKILL')]);
      throw error;
    }

    const kubeconfigPath = path.join(dir, 'kubeconfig');
    const server = new KubeApiServer(
      url,
      caCertificate,
      kubeconfigPath,
      dir,
      tokens,
      etcd,
      apiserver,
    );
    fs.writeFileSync(kubeconfigPath, server.kubeConfig().exportConfig(), { mode: 0o600 });
    return server;
  }

  /** The static bearer token of `user` (one named at start, or `admin`). */
  tokenFor(user: string = ADMIN_USER): string {
    const token = this.tokens.get(user);
    if (token === undefined) {
      throw new Error(
        `KubeApiServer: no user '${user}'; name it in KubeApiServer.start({ users })`,
      );
    }
    return token;
  }

  /** A client configuration for `user` (admin by default) that verifies the server's certificate. */
  kubeConfig(user: string = ADMIN_USER): KubeConfig {
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [
        {
          name: 'flowpool-test',
          server: this.url,
          caData: Buffer.from(this.caCertificate).toString('base64'),
          skipTLSVerify: false,
        },
      ],
      users: [{ name: user, token: this.tokenFor(user) }],
      contexts: [
        { name: `${user}@flowpool-test`, cluster: 'flowpool-test', user, namespace: 'default' },
      ],
      currentContext: `${user}@flowpool-test`,
    });
    return config;
  }

  /** A token of ServiceAccount `namespace/name`, from the TokenRequest API (valid one hour). */
  async serviceAccountToken(namespace: string, name: string): Promise<string> {
    const answer = await this.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      {
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { expirationSeconds: 3600 },
        },
      },
    );
    if (answer.status !== 201) {
      throw new Error(
        `TokenRequest for ${namespace}/${name}: ${answer.status} ${JSON.stringify(answer.body)}`,
      );
    }
    return answer.body.status.token;
  }

  /**
   * A client configuration acting as ServiceAccount `namespace/name`, that
   * verifies the server's certificate; `contextNamespace` sets the
   * namespace a client uses when it names none.
   */
  async serviceAccountConfig(
    namespace: string,
    name: string,
    contextNamespace?: string,
  ): Promise<KubeConfig> {
    const token = await this.serviceAccountToken(namespace, name);
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [
        {
          name: 'test',
          server: this.url,
          caData: Buffer.from(this.caCertificate).toString('base64'),
          skipTLSVerify: false,
        },
      ],
      users: [{ name, token }],
      contexts: [{ name, cluster: 'test', user: name, namespace: contextNamespace }],
      currentContext: name,
    });
    return config;
  }

  /** Writes a kubeconfig file for `user` into the server's temporary folder and returns its path. */
  writeKubeconfig(user: string): string {
    if (user === ADMIN_USER) return this.kubeconfigPath;
    const file = path.join(this.dir, `kubeconfig-${user.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
    fs.writeFileSync(file, this.kubeConfig(user).exportConfig(), { mode: 0o600 });
    return file;
  }

  /**
   * Sends one request to the API as `user` (admin by default) and returns
   * the status and the parsed JSON answer, whatever the status. Handy for
   * asserting the exact error a user would see, and for sending objects
   * exactly as written (the typed clients re-map some schema keys).
   */
  async request<T = KubeStatus>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    pathname: string,
    options: {
      body?: unknown;
      contentType?: string;
      accept?: string;
      user?: string;
      /** A bearer token to send instead of a static user's, e.g. a ServiceAccount token. */
      token?: string;
    } = {},
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${options.token ?? this.tokenFor(options.user)}`,
      accept: options.accept ?? 'application/json',
    };
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] =
        options.contentType ??
        (method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
    }
    const answer = await httpsRequest(
      this.url,
      method,
      pathname,
      this.caCertificate,
      headers,
      payload,
    );
    let body: unknown = answer.body;
    try {
      body = JSON.parse(answer.body);
    } catch {
      // not JSON (e.g. /readyz); keep the text
    }
    return { status: answer.status, body: body as T };
  }

  /** The last lines both servers printed, for failure messages. */
  get recentOutput(): string {
    return `--- kube-apiserver\n${this.apiserver.recentOutput}\n--- etcd\n${this.etcd.recentOutput}`;
  }

  /** Stops kube-apiserver, then etcd. The data is throwaway, so this does not wait long. */
  async stop(): Promise<void> {
    await this.apiserver.stop('SIGTERM', 5_000);
    await this.etcd.stop('SIGTERM', 5_000);
  }

  /** Stops both servers and removes every file they wrote. */
  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Waits until `ready` resolves true; fails at once, with the server's
 * output, when the process exits first.
 */
async function waitUntilServing(
  server: ServerProcess,
  name: string,
  timeoutMs: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  let exited = false;
  try {
    await waitFor(
      name,
      async () => {
        if (!server.running) {
          exited = true;
          return true;
        }
        return ready();
      },
      { timeoutMs, intervalMs: 200 },
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n--- ${name} output\n${server.recentOutput}`);
  }
  if (exited) throw new Error(`${name} exited while starting:\n${server.recentOutput}`);
}

function httpsGet(
  baseUrl: string,
  pathname: string,
  ca: string,
  token: string,
): Promise<HttpAnswer> {
  return httpsRequest(baseUrl, 'GET', pathname, ca, { authorization: `Bearer ${token}` });
}

function httpsRequest(
  baseUrl: string,
  method: string,
  pathname: string,
  ca: string,
  headers: Record<string, string>,
  body?: string,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      new URL(pathname, baseUrl),
      { method, ca, headers, timeout: 30_000 },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${method} ${pathname} timed out`)));
    request.on('error', reject);
    request.end(body);
  });
}
