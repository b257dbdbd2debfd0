#!/usr/bin/env node
// Bundles the web console (console/) into static files the API serves under
// /console: one script and one stylesheet with content hashes in their names
// (so they can be cached for ever) and an index.html that names them (served
// uncached). Run by `npm run build`; the browser tests call buildConsole().
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Builds into outdir (emptied first); returns each file's bytes and gzip bytes. */
export async function buildConsole(outdir = path.join(root, 'dist', 'console')) {
  fs.rmSync(outdir, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(root, 'console', 'src', 'main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    entryNames: 'assets/[name]-[hash]',
    outdir,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) =>
    path.relative(outdir, path.resolve(root, file)),
  );
  const script = outputs.find((file) => file.endsWith('.js'));
  const style = outputs.find((file) => file.endsWith('.css'));
  if (!script || !style) throw new Error('console build: expected one .js and one .css output');
  const html = fs
    .readFileSync(path.join(root, 'console', 'index.html'), 'utf8')
    .replace('%SCRIPT%', `/console/${script}`)
    .replace('%STYLE%', `/console/${style}`);
  fs.writeFileSync(path.join(outdir, 'index.html'), html);
  const sizes = {};
  for (const file of ['index.html', script, style]) {
    const bytes = fs.readFileSync(path.join(outdir, file));
    sizes[file] = { bytes: bytes.length, gzip: gzipSync(bytes).length };
  }
  return sizes;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = await buildConsole();
  const total = Object.values(sizes).reduce((sum, size) => sum + size.gzip, 0);
  if (process.argv.includes('--sizes')) console.log(JSON.stringify(sizes, null, 2));
  console.log(`console: ${Object.keys(sizes).length} files, ${(total / 1024).toFixed(1)} KiB gzip`);
}
