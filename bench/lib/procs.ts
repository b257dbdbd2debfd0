/** Child processes the benches start: flowpool workers and the peers' workers. */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitFor } from '../../local/process.js';
import { CLI, ROOT } from './env.js';

export interface Child {
  name: string;
  child: ChildProcess;
  port?: number;
  exited: Promise<number | null>;
  output: string[];
}

function track(name: string, child: ChildProcess, port?: number): Child {
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    if (output.length > 200) output.splice(0, output.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { name, child, port, exited, output };
}

export interface WorkerSpawn {
  databaseUrl: string;
  redisUrl: string;
  pool: string;
  name: string;
  extraEnv?: Record<string, string>;
  /** node flags, e.g. --cpu-prof */
  nodeArgs?: string[];
  /** Another build's dist/cli/main.js (before/after comparisons). */
  cli?: string | undefined;
}

/** `flowpool worker` as Kubernetes would run it, on a free port. */
export async function spawnFlowpoolWorker(options: WorkerSpawn): Promise<Child> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), options.cli ?? CLI, 'worker'],
    {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        DATABASE_URL: options.databaseUrl,
        REDIS_URL: options.redisUrl,
        WORKFLOW_POOL: options.pool,
        POD_NAME: options.name,
        PORT: String(port),
        LOG_LEVEL: 'warn',
        // Rows are seeded as published; keep the relay from resending them mid-run.
        WORKFLOW_RELAY_REPUBLISH_AFTER_MS: '600000',
        ...options.extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: ROOT,
    },
  );
  return track(options.name, child, port);
}

export async function waitReady(children: readonly Child[], timeoutMs = 30_000): Promise<void> {
  await Promise.all(
    children.map((c) =>
      waitFor(
        `${c.name} ready\n${c.output.slice(-5).join('\n')}`,
        async () => {
          const response = await fetch(`http://127.0.0.1:${c.port}/readyz`, {
            signal: AbortSignal.timeout(1_000),
          });
          return response.status === 200;
        },
        { timeoutMs, intervalMs: 100 },
      ),
    ),
  );
}

/** A bench script of our own in a child process; it prints "ready" when it can take work. */
export async function spawnScript(
  script: string,
  name: string,
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<Child> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/bench', script)], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
  });
  const tracked = track(name, child);
  await waitFor(
    `${name} ready\n${tracked.output.slice(-5).join('\n')}`,
    () => tracked.output.includes('ready') || child.exitCode !== null,
    { timeoutMs, intervalMs: 20 },
  );
  if (child.exitCode !== null)
    throw new Error(`${name} exited ${child.exitCode}:\n${tracked.output.join('\n')}`);
  return tracked;
}

/** SIGTERM, then SIGKILL after the grace period. */
export async function stopAll(children: readonly Child[], graceMs = 30_000): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.child.exitCode !== null || c.child.signalCode !== null) return;
      c.child.kill('SIGTERM');
      const killer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
      await c.exited;
      clearTimeout(killer);
    }),
  );
}

export function writeLog(dir: string, child: Child): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${child.name}.log`), `${child.output.join('\n')}\n`);
}
