import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, childEnv, requireBuild, runCli } from './support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (comments dropped, continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line.trimEnd().endsWith('\\')) {
      current += `${line.trimEnd().slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      stages.push({ from: match?.[1] ?? '', name: match?.[2], instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

function all(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

/** The package a bare import specifier names ('@scope/name/x' → '@scope/name'). */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const IMPORT_PATTERNS = [
  /^\s*(?:import|export)\s[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** Module specifiers a compiled file imports (static imports and literal dynamic ones). */
function importsOf(file: string): string[] {
  const source = fs.readFileSync(file, 'utf8');
  return IMPORT_PATTERNS.flatMap((pattern) => [...source.matchAll(pattern)].map((m) => m[1]!));
}

/**
 * Every compiled file the entrypoint can load: its imports, followed
 * recursively, plus relative module paths it names in strings (the
 * programs loaded on demand, such as ../api/main.js).
 */
function reachableFromEntrypoint(): string[] {
  const seen = new Set<string>();
  const queue = [CLI];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || !fs.existsSync(file)) continue;
    seen.add(file);
    const source = fs.readFileSync(file, 'utf8');
    const named = [...source.matchAll(/['"](\.\.?\/[^'"\s]+\.js)['"]/g)].map((m) => m[1]!);
    for (const specifier of [...importsOf(file), ...named]) {
      if (specifier.startsWith('.')) queue.push(path.resolve(path.dirname(file), specifier));
    }
  }
  return [...seen];
}

/**
 * What can be checked without a Docker engine: the image's stages, user and
 * entrypoint, and that the entrypoint is the very program the process tests
 * run, with nothing it imports missing from the production dependencies.
 */
describe('the Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const stages = parseDockerfile(dockerfile);
  const runtime = stages.at(-1)!;
  const packageJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    type: string;
    dependencies: Record<string, string>;
  };

  beforeAll(() => requireBuild());

  it('builds in one stage, installs production dependencies in another, and runs from a slim Node 20 base', () => {
    expect(stages.map((stage) => stage.name)).toEqual(['build', 'deps', 'runtime']);
    for (const stage of stages) expect(stage.from).toMatch(/^node:20[.\d]*-bookworm-slim$/);
    const [build, deps] = stages;
    expect(all(build!, 'RUN')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^npm ci\b/), 'npm run build']),
    );
    expect(all(deps!, 'RUN').join(' ')).toMatch(/npm ci --omit=dev\b/);
    expect(all(deps!, 'RUN').join(' ')).not.toMatch(/npm run build|npm install\b/);
  });

  it('copies into the build every source the entrypoint needs, and the context leaves the rest out', () => {
    const build = stages[0]!;
    const copied = all(build, 'COPY').flatMap((args) => args.split(/\s+/).slice(0, -1));
    for (const file of copied) expect(fs.existsSync(path.join(ROOT, file)), file).toBe(true);
    const needed = new Set(
      reachableFromEntrypoint().map(
        (file) => path.relative(path.join(ROOT, 'dist'), file).split(path.sep)[0]!,
      ),
    );
    expect([...needed].sort()).toEqual(
      expect.arrayContaining(['cli', 'core', 'migrations', 'operator', 'worker']),
    );
    for (const dir of needed) expect(copied, `the build needs ${dir}/`).toContain(dir);
    const ignored = fs
      .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['.git', 'node_modules', 'dist']));
    for (const file of copied) expect(ignored).not.toContain(file);
  });

  it('ships only dist, production node_modules and package.json, as a non-root user', () => {
    const copies = all(runtime, 'COPY');
    expect(copies).toHaveLength(3);
    for (const copy of copies) expect(copy).toMatch(/^--from=(build|deps) /);
    expect(copies).toEqual(
      expect.arrayContaining([
        '--from=deps /app/node_modules ./node_modules',
        '--from=build /app/dist ./dist',
        '--from=deps /app/package.json ./package.json',
      ]),
    );
    // package.json must come along: it makes dist/ ES modules.
    expect(packageJson.type).toBe('module');
    expect(all(runtime, 'RUN')).toEqual([]);
    expect(all(runtime, 'ADD')).toEqual([]);
    const users = all(runtime, 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.split(':').map(Number);
    expect(uid).toBe(10001);
    expect(gid).toBe(10001);
    expect(all(runtime, 'EXPOSE')).toEqual(['8080']);
    expect(all(runtime, 'WORKDIR')).toEqual(['/app']);
  });

  it('starts node directly on the compiled CLI, in exec form (no shell), worker by default', () => {
    const entrypoint = JSON.parse(all(runtime, 'ENTRYPOINT')[0]!) as string[];
    const cmd = JSON.parse(all(runtime, 'CMD')[0]!) as string[];
    expect(entrypoint).toEqual(['node', 'dist/cli/main.js']);
    expect(cmd).toEqual(['worker']);
    // WORKDIR /app holds the repository's dist/: the entrypoint is the file the tests spawn.
    expect(path.join(ROOT, entrypoint[1]!)).toBe(CLI);
    expect(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).bin.flowpool).toBe(
      entrypoint[1],
    );
    expect(dockerfile).toMatch(/PID 1/);
  });

  it('runs the entrypoint: --help for the program and every command', async () => {
    const env = childEnv({});
    const main = await runCli(['--help'], env);
    expect(main.code).toBe(0);
    const commands = [
      ['migrate'],
      ['worker'],
      ['api'],
      ['operator'],
      ['submit'],
      ['submit-event'],
      ['inspect'],
      ['verify'],
      ['dlq'],
      ['dlq', 'list'],
      ['dlq', 'retry'],
    ];
    for (const command of commands) {
      expect(main.stdout).toMatch(new RegExp(`^\\s+${command[0]}\\b`, 'm'));
      const help = await runCli([...command, '--help'], env);
      expect(help.code, `${command.join(' ')} --help`).toBe(0);
      expect(help.stdout).toContain(`Usage: flowpool ${command.join(' ')}`);
    }
  });

  it('installs only packages that accept its Node (npm would warn EBADENGINE otherwise)', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[] }>;
    };
    const { engines } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      engines: { node: string };
    };
    // The oldest Node the project supports, on the image's major line.
    const major = runtime.from.match(/^node:(\d+)/)?.[1];
    const oldest = semver.minVersion(engines.node)!;
    expect(major).toBe(String(oldest.major));
    const refused: Record<string, string> = {};
    for (const [where, entry] of Object.entries(lock.packages)) {
      const wanted = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (where === '' || entry.dev || wanted === undefined) continue;
      if (!semver.satisfies(oldest, wanted)) refused[where] = wanted;
    }
    expect(refused).toEqual({});
  });

  it('needs nothing at run time beyond the production dependencies', () => {
    const production = new Set(Object.keys(packageJson.dependencies));
    const builtins = new Set(builtinModules);
    const missing = new Map<string, string>();
    const files = reachableFromEntrypoint();
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
        const name = packageOf(specifier);
        if (builtins.has(name) || production.has(name)) continue;
        missing.set(name, path.relative(ROOT, file));
      }
    }
    expect(Object.fromEntries(missing)).toEqual({});
  });
});
