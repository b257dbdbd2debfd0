/**
 * Writes crds/workflowworkerpools.flowpool.dev.yaml from the schema in
 * pool.ts. Run it with `npm run gen:crd`; with `--check` it only reports
 * whether the committed file is current (exit 1 when it is not).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_YAML_PATH, workflowWorkerPoolCrdYaml } from './crd.js';

/** The repository root: the nearest folder above this file with package.json (works from dist/ too). */
function repositoryRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('generate-crd: no package.json above this script');
    dir = parent;
  }
  return dir;
}

function main(argv: string[]): number {
  const file = path.join(repositoryRoot(), CRD_YAML_PATH);
  const text = workflowWorkerPoolCrdYaml();
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  if (argv.includes('--check')) {
    if (current === text) return 0;
    console.error(`${CRD_YAML_PATH} is out of date; run npm run gen:crd`);
    return 1;
  }
  if (current === text) {
    console.log(`${CRD_YAML_PATH} is up to date`);
    return 0;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  console.log(`wrote ${CRD_YAML_PATH}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
