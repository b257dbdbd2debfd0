import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findProgram, MissingServerError } from './postgres-server.js';
import { canConnect, freePort, ServerProcess, waitFor } from './process.js';

const REDIS_DIRS = ['/usr/bin', '/usr/local/bin', '/opt/homebrew/bin', '/usr/sbin'];

/** Finds redis-server, or says exactly what to install. */
export function redisBinary(dirs: readonly string[] = REDIS_DIRS): string {
  const found = findProgram('redis-server', dirs);
  if (found) return found;
  throw new MissingServerError(
    'redis-server was not found. Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a server you run.',
  );
}

/** A throwaway redis-server on a free port, with no persistence, that a test may stop and restart. */
export class RedisServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly process: ServerProcess,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port, with its working files in `dir` or a new temporary folder. */
  static async start(options: { dir?: string } = {}): Promise<RedisServer> {
    const port = await freePort();
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-redis-'));
    fs.mkdirSync(dir, { recursive: true });
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
    ];
    const server = new RedisServer(
      port,
      dir,
      new ServerProcess('redis-server', redisBinary(), args),
    );
    await server.resume();
    return server;
  }

  /** Starts the server again (empty: nothing is persisted). */
  async resume(): Promise<void> {
    this.process.start();
    await waitFor(
      () => `redis-server on ${this.port}\n${this.process.recentOutput}`,
      () => canConnect(this.port),
    );
  }

  async stop(): Promise<void> {
    await this.process.stop('SIGTERM');
  }

  /** Kills and restarts the server; every key is gone afterwards. */
  async restartEmpty(): Promise<void> {
    await this.process.stop('SIGKILL');
    await this.resume();
  }

  async destroy(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
