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

const OTHER_BIN_DIRS = [
  '/usr/local/bin',
  '/usr/bin',
  '/opt/homebrew/bin',
  '/usr/local/opt/postgresql/bin',
];

export function findProgram(name: string, dirs: readonly string[]): string | undefined {
  return dirs.map((dir) => path.join(dir, name)).find((candidate) => fs.existsSync(candidate));
}

/** Finds a PostgreSQL server program, or says exactly what to install. */
export function pgBinary(
  name: 'postgres' | 'initdb',
  dirs: readonly string[] = [...PG_BIN_CANDIDATES, ...OTHER_BIN_DIRS],
): string {
  const found = findProgram(name, dirs);
  if (found) return found;
  throw new MissingServerError(
    `PostgreSQL's ${name} was not found. Install the server (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql) or set DATABASE_URL to a server you run.`,
  );
}

/** A server program the local mode needs is not installed. */
export class MissingServerError extends Error {}

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

function initCluster(dataDir: string, spawnOptions: SpawnOptions): void {
  execFileSync(
    pgBinary('initdb'),
    ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'],
    { ...spawnOptions, stdio: 'pipe' },
  );
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

  /**
   * Starts a server on a free port: in a new temporary folder, or in `dir`
   * (kept between runs; the cluster is created there the first time).
   */
  static async start(options: { dir?: string; durable?: boolean } = {}): Promise<PostgresServer> {
    const port = await freePort();
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-pg-'));
    fs.mkdirSync(dir, { recursive: true });
    const dataDir = path.join(dir, 'data');
    const identity = unprivilegedIdentity();
    const spawnOptions: SpawnOptions = identity ? { ...identity, cwd: dir } : { cwd: dir };
    if (identity) fs.chownSync(dir, identity.uid, identity.gid);
    if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) initCluster(dataDir, spawnOptions);
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
      'max_connections=300',
      // Throwaway clusters trade crash safety for speed; a kept one does not.
      ...(options.durable
        ? []
        : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
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
      () => `postgres on ${this.port}\n${this.process.recentOutput}`,
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
