import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where test/tools/build.sh puts the binaries it builds. */
export interface TestToolPaths {
  /** The cache folder holding all binaries of the current version set. */
  binDir: string;
  kubeApiserver: string;
  etcd: string;
  helm: string;
}

export type TestTool = 'kubeApiserver' | 'etcd' | 'helm';

const toolsDir = path.dirname(fileURLToPath(import.meta.url));

const binaryNames: Record<TestTool, string> = {
  kubeApiserver: 'kube-apiserver',
  etcd: 'etcd',
  helm: 'helm',
};

/** The version `<moduleDir>/go.mod` requires for `module` (same rule as build.sh). */
function requiredVersion(moduleDir: string, module: string): string {
  const goMod = path.join(toolsDir, moduleDir, 'go.mod');
  for (const line of fs.readFileSync(goMod, 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'require' && fields[1] === module && fields[2]) return fields[2];
    if (fields[0] === module && fields[1]?.startsWith('v')) return fields[1];
  }
  throw new Error(`${goMod} does not require ${module}`);
}

/**
 * The cached binary paths, computed like test/tools/build.sh does: under
 * `${FLOWPOOL_TOOLS_CACHE:-$HOME/.cache/flowpool-test-tools}/<versions>/bin`.
 * Does not check that the binaries exist; see {@link requireTestTools}.
 */
export function testToolPaths(env: NodeJS.ProcessEnv = process.env): TestToolPaths {
  const kube = requiredVersion('kube', 'k8s.io/kubernetes');
  const etcd = requiredVersion('etcd', 'go.etcd.io/etcd/server/v3');
  const helm = requiredVersion('helm', 'helm.sh/helm/v3');
  const cacheRoot =
    env.FLOWPOOL_TOOLS_CACHE ||
    path.join(env.HOME || os.homedir(), '.cache', 'flowpool-test-tools');
  const binDir = path.join(cacheRoot, `kube-${kube}_etcd-${etcd}_helm-${helm}`, 'bin');
  return {
    binDir,
    kubeApiserver: path.join(binDir, binaryNames.kubeApiserver),
    etcd: path.join(binDir, binaryNames.etcd),
    helm: path.join(binDir, binaryNames.helm),
  };
}

/**
 * The cached binary paths, after checking that the wanted ones (all by
 * default) exist and are executable. Throws an error that says how to build
 * them when they do not.
 */
export function requireTestTools(
  wanted: TestTool[] = ['kubeApiserver', 'etcd', 'helm'],
  env: NodeJS.ProcessEnv = process.env,
): TestToolPaths {
  const paths = testToolPaths(env);
  const missing = wanted.filter((tool) => {
    try {
      fs.accessSync(paths[tool], fs.constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    const names = missing.map((tool) => binaryNames[tool]).join(', ');
    throw new Error(
      `test tools missing: ${names} not found in ${paths.binDir}; ` +
        'run test/tools/build.sh (needs Go; test/run does it for you) and try again',
    );
  }
  return paths;
}
