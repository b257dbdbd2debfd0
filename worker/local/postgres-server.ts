import { execFileSync, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, ServerProcess, waitFor } from './process.js';

const PG_BIN_CANDIDATES = [
  '/usr/lib/postgresql/17/bin',
  '/usr/lib/postgresql/16/bin',
  '/usr/lib/postgresql/15/bin',
];

function pgBinary(name: string): string {
  for (const dir of PG_BIN_CANDIDATES) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return name;
}

/**
 * PostgreSQL refuses to run as root, so when the tests run as root (as CI does)
 * the server runs as the unprivileged `postgres` account.
 */
function unprivilegedIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/** A throwaway PostgreSQL cluster in a temporary folder, on a free port. */
export class PostgresServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly process: ServerProcess,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async start(): Promise<PostgresServer> {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-pg-'));
    const dataDir = path.join(dir, 'data');
    const identity = unprivilegedIdentity();
    const spawnOptions: SpawnOptions = identity ? { ...identity, cwd: dir } : { cwd: dir };
    if (identity) fs.chownSync(dir, identity.uid, identity.gid);
    execFileSync(
      pgBinary('initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'],
      {
        ...spawnOptions,
        stdio: 'pipe',
      },
    );
    const args = [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
    ];
    const server = new PostgresServer(
      port,
      dir,
      new ServerProcess('postgres', pgBinary('postgres'), args, spawnOptions),
    );
    await server.resume();
    return server;
  }

  async resume(): Promise<void> {
    this.process.start();
    await waitFor(
      `postgres on ${this.port}\n${this.process.recentOutput}`,
      () => this.acceptsQueries(),
      {
        timeoutMs: 60_000,
      },
    );
  }

  private async acceptsQueries(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Fast shutdown: open connections are terminated, committed data stays. */
  async stop(): Promise<void> {
    await this.process.stop('SIGINT');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.resume();
  }

  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
