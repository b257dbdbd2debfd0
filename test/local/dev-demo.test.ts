import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../local/redis-server.js';
import { type TestDatabase, testDatabase } from '../support/isolation.js';

const CLI = path.resolve('dist/cli/main.js');

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: '/usr/bin:/bin', ...env },
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/** The worker logs of a run (warnings and errors only, at LOG_LEVEL=warn). */
function workerLogs(dataDir: string): string {
  const dir = path.join(dataDir, 'logs');
  return fs
    .readdirSync(dir)
    .filter((file) => file.startsWith('local-worker'))
    .map((file) => `--- ${file}\n${fs.readFileSync(path.join(dir, file), 'utf8').slice(-4_000)}`)
    .join('\n');
}

describe('flowpool dev --demo', () => {
  let db: TestDatabase;
  let redis: RedisServer;
  let dataDir: string;
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error('dist/ is missing: run npm run build (test/run does)');
    db = await testDatabase();
    redis = await RedisServer.start();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-dev-'));
  });
  afterAll(async () => {
    await redis.destroy();
    await db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('scales local workers up for each burst and back to zero, applying every event exactly once', async () => {
    // A password in a given URL must not be printed (the test server trusts
    // local connections, so any password is accepted).
    const withPassword = new URL(db.url);
    if (!withPassword.password) withPassword.password = 'hunter2';
    const { code, output } = await run(
      ['dev', '--demo', '--burst', '400', '--max-workers', '2', '--data-dir', dataDir],
      {
        DATABASE_URL: withPassword.toString(),
        REDIS_URL: redis.url,
        LOG_LEVEL: 'warn',
      },
    );
    expect(output).toContain('Every accepted event was applied exactly once.');
    expect(output).not.toContain(withPassword.password);
    expect(output).toMatch(/PostgreSQL\s+postgres:\/\/[^:\s]+:\*\*\*@/);
    // A token made for this run, printed so the user can call the API.
    const token = output.match(/Authorization: Bearer (\S+)\)/)?.[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    // The console's address carries the same token, in the fragment.
    expect(output).toMatch(
      new RegExp(`Console\\s+http://127\\.0\\.0\\.1:\\d+/console/#token=${token}\\n`),
    );
    expect(code).toBe(0);
    expect(output).toMatch(/events accepted\s+800 /);
    expect(output).toMatch(/duplicates\s+0/);
    expect(output).toMatch(/lost\s+0/);
    const stopped = output.match(/workers stopped\s+(\d+), drained cleanly (\d+)/);
    // A worker that did not drain is named in the summary; its log says why.
    expect(stopped?.[1], `${output}\n${workerLogs(dataDir)}`).toBe(stopped?.[2]);
    expect(Number(stopped?.[1])).toBeGreaterThanOrEqual(2);
    const chart = output.match(/chart\s+(\S+\.svg)/)?.[1];
    expect(chart && fs.readFileSync(chart, 'utf8')).toContain('<polyline');
    const timeline = JSON.parse(
      fs.readFileSync(chart!.replace(/\.svg$/, '.json'), 'utf8'),
    ) as Array<{ replicas: number }>;
    expect(Math.max(...timeline.map((s) => s.replicas))).toBeGreaterThanOrEqual(1);
    expect(timeline.at(-1)?.replicas).toBe(0);
  });
});
