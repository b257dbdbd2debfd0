/**
 * test/node/run.sh needs root, podman and a kernel that runs containers, so
 * the suite does not start the cluster (CI runs run.sh on its own, after the
 * suite). What it checks here: the scripts parse, shellcheck finds nothing,
 * every file they name exists, and --help answers without touching the host.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPTS = ['test/node/run.sh', 'test/node/cluster.sh', 'test/node/images.sh'].map((file) =>
  path.join(ROOT, file),
);

function shellcheckPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'shellcheck');
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

describe('test/node scripts', () => {
  it('parse as bash, and run.sh is executable', () => {
    expect(fs.statSync(SCRIPTS[0]!).mode & 0o111).not.toBe(0);
    for (const file of SCRIPTS) {
      const result = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
      expect(result.stderr, file).toBe('');
      expect(result.status, file).toBe(0);
    }
  });

  const shellcheck = shellcheckPath();
  it.skipIf(shellcheck === undefined)('are shellcheck-clean (skipped without shellcheck)', () => {
    const result = spawnSync(shellcheck!, ['-x', '-P', 'SCRIPTDIR/../..', ...SCRIPTS], {
      encoding: 'utf8',
      cwd: ROOT,
    });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('name only files that exist', () => {
    const text = SCRIPTS.map((file) => fs.readFileSync(file, 'utf8')).join('\n');
    const named = [...text.matchAll(/\$root\/([\w./-]+)/g)]
      .map((match) => match[1]!)
      .filter((file) => !file.startsWith('test-artifacts/'));
    expect(named).toEqual(
      expect.arrayContaining([
        'test/e2e/scenario.sh',
        'test/tools/build.sh',
        'test/node/pause.c',
        'Dockerfile',
      ]),
    );
    for (const file of named) expect(fs.existsSync(path.join(ROOT, file)), file).toBe(true);
    for (const image of ['node-base', 'pause', 'postgres', 'redis']) {
      expect(fs.existsSync(path.join(ROOT, `test/node/images/${image}.Containerfile`))).toBe(true);
    }
  });

  it('run.sh --help prints its usage and starts nothing', () => {
    const result = spawnSync(SCRIPTS[0]!, ['--help'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: test/node/run.sh [--smoke]');
    const wrong = spawnSync(SCRIPTS[0]!, ['--nope'], { encoding: 'utf8' });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain("unknown argument '--nope'");
  });
});
