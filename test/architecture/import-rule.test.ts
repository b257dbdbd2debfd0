import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEPCRUISE = path.join(ROOT, 'node_modules/.bin/depcruise');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const PRODUCT = ['core', 'workflow', 'scaling', 'store', 'stream', 'engine', 'worker', 'api'];
const run = promisify(execFile);

interface Outcome {
  code: number;
  output: string;
}

async function cruise(cwd: string, folders: string[]): Promise<Outcome> {
  try {
    const { stdout } = await run(DEPCRUISE, ['--config', CONFIG, ...folders], { cwd });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** A tree of two layers with the given files, in a folder of its own. */
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-import-rule-'));
  made.push(dir);
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' } }),
  );
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}
const made: string[] = [];
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the import rule (.dependency-cruiser.cjs)', () => {
  it('passes on the product tree', async () => {
    const outcome = await cruise(ROOT, [...PRODUCT, 'client', 'operator', 'local', 'cli']);
    expect(outcome.output).toContain('no dependency violations found');
    expect(outcome.code).toBe(0);
  });

  it('fails on a deliberate back-edge and names the rule it breaks', async () => {
    const dir = tree({
      'core/clock.ts': "import { drain } from '../worker/drain.js';\nexport const now = drain;\n",
      'worker/drain.ts': 'export const drain = 1;\n',
    });
    const outcome = await cruise(dir, ['core', 'worker']);
    expect(outcome.code).not.toBe(0);
    expect(outcome.output).toContain('core-imports-only-downward');
    expect(outcome.output).toContain('core/clock.ts → worker/drain.ts');
  });

  it('lets a leaf import downward, and a test import anything', async () => {
    const dir = tree({
      'core/clock.ts': 'export const now = 1;\n',
      'worker/drain.ts': "import { now } from '../core/clock.js';\nexport const drain = now;\n",
      'core/clock.test.ts':
        "import { drain } from '../worker/drain.js';\nexport const seen = drain;\n",
    });
    const outcome = await cruise(dir, ['core', 'worker']);
    expect(outcome.output).toContain('no dependency violations found');
    expect(outcome.code).toBe(0);
  });
});
