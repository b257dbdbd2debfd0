/**
 * test/e2e/kind.sh cannot run here (it needs Docker and kind), so what can be
 * checked without them is: it and the scenario it shares with test/node/run.sh
 * (test/e2e/scenario.sh) parse, shellcheck finds nothing, every file they name
 * exists, and the CI workflow runs it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(ROOT, 'test/e2e/kind.sh');
const SCENARIO = path.join(ROOT, 'test/e2e/scenario.sh');
const WORKFLOW = path.join(ROOT, '.github/workflows/e2e-kind.yaml');

function shellcheckPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'shellcheck');
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

describe('test/e2e/kind.sh', () => {
  it('is an executable bash script that parses, and so does the scenario it sources', () => {
    expect(fs.statSync(SCRIPT).mode & 0o111).not.toBe(0);
    for (const file of [SCRIPT, SCENARIO]) {
      const result = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    }
    expect(fs.readFileSync(SCRIPT, 'utf8')).toContain('source "$root/test/e2e/scenario.sh"');
  });

  const shellcheck = shellcheckPath();
  it.skipIf(shellcheck === undefined)('is shellcheck-clean (skipped without shellcheck)', () => {
    const result = spawnSync(shellcheck!, ['-x', '-P', 'SCRIPTDIR/../..', SCRIPT], {
      encoding: 'utf8',
      cwd: ROOT,
    });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('names only files that exist', () => {
    const text = fs.readFileSync(SCRIPT, 'utf8') + fs.readFileSync(SCENARIO, 'utf8');
    const named = [...text.matchAll(/\$root\/([\w./-]+)/g)]
      .map((match) => match[1]!)
      // Where it writes its diagnostics, created on failure.
      .filter((file) => !file.startsWith('test-artifacts/'));
    expect(named).toEqual(
      expect.arrayContaining([
        'deploy/postgres.yaml',
        'deploy/redis.yaml',
        'examples/secret.yaml',
        'charts/flowpool',
        'test/e2e/values.yaml',
        'test/e2e/pool.yaml',
        'test/e2e/burst.mjs',
        'test/e2e/burst-jobs.yaml',
        'test/e2e/exactly-once.sql',
        'test/e2e/workflow/Containerfile',
        'test/e2e/scenario.sh',
      ]),
    );
    for (const file of named) expect(fs.existsSync(path.join(ROOT, file)), file).toBe(true);
    expect(fs.existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
  });

  it('is what the CI workflow runs', () => {
    const workflow = parse(fs.readFileSync(WORKFLOW, 'utf8')) as {
      on: Record<string, unknown>;
      jobs: Record<string, { 'runs-on': string; steps: Array<{ run?: string; uses?: string }> }>;
    };
    const job = workflow.jobs.kind!;
    expect(job['runs-on']).toBe('ubuntu-latest');
    const runs = job.steps.map((step) => step.run ?? '').join('\n');
    expect(runs).toContain('test/e2e/kind.sh');
    expect(runs).toContain('shellcheck -x test/e2e/kind.sh');
    expect(job.steps.some((step) => step.uses?.startsWith('actions/upload-artifact'))).toBe(true);
  });
});
