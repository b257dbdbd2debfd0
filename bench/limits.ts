/**
 * Workload 3 — the physical limit: pgbench's single-row update TPS and
 * redis-benchmark's XADD rate on the very servers flowpool uses, against
 * flowpool's own rate (one worker process) in the same rounds; and how many
 * events each flowpool commit carries.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findProgram } from '../local/postgres-server.js';
import { type BenchEnv, describeMachine } from './lib/env.js';
import { fmt, fmtSummary, rounds, summarize, table, writeResult } from './lib/stats.js';
import { runFlowpool, type Shape, shapesFromEnv } from './throughput.js';

const run = promisify(execFile);
const PG_DIRS = [
  '/usr/lib/postgresql/17/bin',
  '/usr/lib/postgresql/16/bin',
  '/usr/lib/postgresql/15/bin',
  '/usr/bin',
];

async function pgbench(env: BenchEnv, clients: number): Promise<number> {
  const program = findProgram('pgbench', PG_DIRS);
  if (!program) throw new Error('pgbench not found');
  await env.knex.raw(
    'create table if not exists pgb_rows (id integer primary key, n integer not null default 0)',
  );
  await env.knex.raw('truncate pgb_rows');
  await env.knex.raw('insert into pgb_rows (id) select generate_series(1, 200)');
  const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pgb-')), 'update.sql');
  fs.writeFileSync(
    script,
    '\\set id random(1, 200)\nupdate pgb_rows set n = n + 1 where id = :id;\n',
  );
  const url = new URL(env.databaseUrl);
  const { stdout } = await run(program, [
    '-n',
    '-f',
    script,
    '-c',
    String(clients),
    '-j',
    '2',
    '-T',
    '10',
    '-h',
    url.hostname,
    '-p',
    url.port,
    '-U',
    url.username || 'postgres',
    url.pathname.slice(1) || 'postgres',
  ]);
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
  if (!tps) throw new Error(`pgbench said: ${stdout}`);
  return Number(tps);
}

async function xadd(env: BenchEnv, pipeline: number): Promise<number> {
  const url = new URL(env.redisUrl);
  const key = `bench:xadd:${Date.now()}`;
  const { stdout } = await run('redis-benchmark', [
    '-h',
    url.hostname,
    '-p',
    url.port,
    '-n',
    '200000',
    '-c',
    '50',
    '-P',
    String(pipeline),
    '-q',
    'XADD',
    key,
    '*',
    'tenant',
    'bench',
    'execution',
    'x000001',
    'event',
    '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d',
  ]);
  await env.redis.del(key);
  const rps = /([\d.]+) requests per second/.exec(stdout.split('\r').at(-1) ?? stdout)?.[1];
  if (!rps) throw new Error(`redis-benchmark said: ${stdout}`);
  return Number(rps);
}

export async function limitsBench(env: BenchEnv) {
  const n = rounds();
  const shapes = shapesFromEnv();
  const rows: Record<string, number[]> = {};
  const add = (k: string, v: number) => {
    rows[k] ??= [];
    rows[k].push(v);
  };
  for (let round = 1; round <= n; round += 1) {
    add('pgbench update tps (8 clients)', await pgbench(env, 8));
    add('redis-benchmark XADD/s (50 clients)', await xadd(env, 1));
    add('redis-benchmark XADD/s (50 clients, pipeline 16)', await xadd(env, 16));
    for (const shape of shapes) {
      const r = await runFlowpool(env, shape, 1);
      const key = (s: Shape) => `${s.executions}×${s.perExecution}`;
      add(`flowpool ${key(shape)} applied events/s`, r.appliedRate);
      add(
        `flowpool ${key(shape)} events per commit`,
        r.events / Math.max(1, r.counters.executionUpdates),
      );
      add(`flowpool ${key(shape)} PG transactions per event`, r.counters.commits / r.events);
    }
    console.error(
      `round ${round}: ${JSON.stringify(Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, Math.round(v.at(-1)! * 100) / 100])))}`,
    );
  }
  const pg = summarize(rows['pgbench update tps (8 clients)']!).median;
  const xa = summarize(rows['redis-benchmark XADD/s (50 clients)']!).median;
  const lines = Object.entries(rows).map(([k, v]) => {
    const s = summarize(v);
    const isRate = k.endsWith('events/s');
    return [
      k,
      fmtSummary(s, k.includes('per') ? 2 : 0),
      isRate
        ? `${((s.median / pg) * 100).toFixed(1)}% of pgbench, ${((s.median / xa) * 100).toFixed(1)}% of XADD`
        : '',
    ];
  });
  const text = table(['measure', 'median (min–max)', 'fraction'], lines);
  console.log(`\n## Physical limit (${n} rounds)\n\n${text}\n`);
  const file = writeResult('limits', { machine: await describeMachine(env), rows, table: text });
  console.log(`results: ${file}`);
  void fmt;
  return rows;
}
