/**
 * The import rule: the tree is cut by dependency direction, and an import
 * may point only at its own layer or down. Tests, benches and test support
 * may import anything; they are not part of the product's graph.
 *
 *   core        errors, config, logger, redaction, timing, process lifecycle
 *   workflow    definitions, reducer, registry          -> core
 *   scaling     the pool-sizing policy                  -> core
 *   store       the PostgreSQL event store              -> core, workflow
 *   stream      the Redis stream contract, backlog      -> core, scaling
 *   engine      enqueue, dead letters, relay, verify    -> core, workflow, store, stream
 *   worker, api, client                                 -> engine and below
 *   operator                                            -> core, scaling, stream
 *   local                                               -> core, scaling, stream, migrations
 *   cli         the one program entry                   -> anything
 *
 * docs/architecture.md draws the same graph.
 */
const LAYERS = {
  core: [],
  migrations: ['core'],
  workflow: ['core'],
  scaling: ['core'],
  store: ['core', 'workflow'],
  stream: ['core', 'scaling'],
  engine: ['core', 'workflow', 'store', 'stream'],
  worker: ['core', 'workflow', 'store', 'stream', 'engine'],
  api: ['core', 'workflow', 'store', 'stream', 'engine'],
  client: ['core', 'workflow', 'store', 'stream', 'engine'],
  operator: ['core', 'scaling', 'stream'],
  local: ['core', 'scaling', 'stream', 'migrations'],
};
const PRODUCT = [...Object.keys(LAYERS), 'cli'];

const layerRules = Object.entries(LAYERS).map(([layer, below]) => {
  const allowed = [layer, ...below];
  const forbiddenTargets = PRODUCT.filter((other) => !allowed.includes(other));
  return {
    name: `${layer}-imports-only-downward`,
    comment: `${layer}/ may import only ${allowed.join(', ')} (see the layer table at the top of .dependency-cruiser.cjs)`,
    severity: 'error',
    from: { path: `^${layer}/`, pathNot: '\\.test\\.ts$' },
    to: { path: `^(${forbiddenTargets.join('|')})/` },
  };
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'product-imports-no-tests',
      comment: 'product code never imports test support, benches or test files',
      severity: 'error',
      from: { path: `^(${PRODUCT.join('|')})/`, pathNot: '\\.test\\.ts$' },
      to: { path: ['^test/', '^bench/', '\\.test\\.ts$'] },
    },
    {
      name: 'no-circular',
      comment:
        'a cycle hides which module owns a concern and makes load order matter; a cycle through type-only imports (an interface and its user) loads nothing and is allowed',
      severity: 'error',
      from: { path: `^(${PRODUCT.join('|')})/`, pathNot: '\\.test\\.ts$' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
