/**
 * Profiles the top figure: one `flowpool worker` process under
 * `node --cpu-prof` applying a backlog, and says where its CPU time went.
 */
import fs from 'node:fs';
import path from 'node:path';
import { summarizeProfile } from './lib/cpuprofile.js';
import { type BenchEnv, counterDelta, ROOT } from './lib/env.js';
import { fmt, table, writeResult } from './lib/stats.js';
import { runFlowpool, shapesFromEnv } from './throughput.js';

export async function profileBench(env: BenchEnv) {
  const out = [];
  for (const shape of shapesFromEnv()) {
    const dir = path.join(
      ROOT,
      'bench/results/profiles',
      `${shape.executions}x${shape.perExecution}-${Date.now()}`,
    );
    fs.mkdirSync(dir, { recursive: true });
    const run = await runFlowpool(env, shape, 1, {
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
    });
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no profile written in ${dir}`);
    const summary = summarizeProfile(path.join(dir, file));
    out.push({ shape, run, profile: summary, file: path.join(dir, file) });
    console.log(
      `\n## Profile of one worker, ${shape.executions}×${shape.perExecution} (${fmt(run.appliedRate)} events/s applied, ${fmt(run.drainedRate)} drained; CPU busy ${fmt(summary.busyMs)} ms of ${fmt(summary.wallMs)} ms wall)\n`,
    );
    console.log(
      table(
        ['area', 'self ms', 'share of busy'],
        summary.byArea
          .slice(0, 14)
          .map((a) => [a.area, fmt(a.ms), `${(a.share * 100).toFixed(1)}%`]),
      ),
    );
    console.log(
      `\n${table(
        ['function', 'area', 'self ms', 'share'],
        summary.topFunctions.map((f) => [
          `\`${f.fn}\``,
          f.area,
          fmt(f.ms),
          `${(f.share * 100).toFixed(1)}%`,
        ]),
      )}\n`,
    );
    console.log(
      `per event: ${(run.counters.commits / run.events).toFixed(2)} PG transactions, ${(run.counters.redisCalls / run.events).toFixed(2)} Redis calls`,
    );
  }
  const file = writeResult('profile', out);
  console.log(`results: ${file}`);
  void counterDelta;
  return out;
}
