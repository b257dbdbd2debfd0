/**
 * Wrong values stop helm template and helm lint with a message that names the
 * value and what to do: values.schema.json for single values, the chart's
 * validate template for rules between values.
 */
import { describe, expect, it } from 'vitest';
import { helmLint, helmTemplateRaw } from './helm.js';

const withApi = {
  database: { url: 'postgres://db/flowpool' },
  redis: { url: 'redis://redis:6379' },
  api: { enabled: true, tokens: { inline: { 'token-for-tests': 'acme' } } },
};

interface Invalid {
  why: string;
  values: unknown;
  message: string;
}

/** Refused by values.schema.json. */
const bySchema: Invalid[] = [
  {
    why: 'a top-level key is misspelt',
    values: { operater: { replicas: 1 } },
    message: "additional properties 'operater' not allowed",
  },
  {
    why: 'a nested key is misspelt',
    values: { operator: { leaderElection: { enable: false } } },
    message: "at '/operator/leaderElection': additional properties 'enable' not allowed",
  },
  {
    why: 'the operator has no replicas',
    values: { operator: { replicas: 0 } },
    message: "at '/operator/replicas': minimum: got 0, want 1",
  },
  {
    why: 'replicas is a string',
    values: { operator: { replicas: 'two' } },
    message: "at '/operator/replicas': got string, want integer",
  },
  {
    why: 'the pull policy is unknown',
    values: { image: { pullPolicy: 'Sometimes' } },
    message: "at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'",
  },
  {
    why: 'the digest is not a sha256 digest',
    values: { image: { digest: 'latest' } },
    message: "at '/image/digest'",
  },
  {
    why: 'the database URL is not a PostgreSQL URL',
    values: { database: { url: 'mysql://db/flowpool' } },
    message: "at '/database/url': 'mysql://db/flowpool' does not match pattern",
  },
  {
    why: 'the Redis URL is not a Redis URL',
    values: { redis: { url: 'http://redis:6379' } },
    message: "at '/redis/url': 'http://redis:6379' does not match pattern",
  },
  {
    why: 'the stream prefix does not end in a colon',
    values: { redis: { streamPrefix: 'events' } },
    message: "at '/redis/streamPrefix': 'events' does not match pattern",
  },
  {
    why: 'the log level is unknown',
    values: { operator: { logLevel: 'verbose' } },
    message: "at '/operator/logLevel': value must be one of 'fatal', 'error'",
  },
  {
    why: 'the watched namespace is not a namespace name',
    values: { operator: { watchNamespace: 'Team_A' } },
    message: "at '/operator/watchNamespace': 'Team_A' does not match pattern",
  },
  {
    why: 'the migration mode is unknown',
    values: { migrations: { mode: 'manual' } },
    message: "at '/migrations/mode': value must be one of 'hook', 'initContainer'",
  },
  {
    why: 'a disruption budget allows no disruption',
    values: { operator: { podDisruptionBudget: { enabled: true, maxUnavailable: 0 } } },
    message: "at '/operator/podDisruptionBudget/maxUnavailable'",
  },
  {
    why: 'a scrape interval is not a duration',
    values: { metrics: { serviceMonitor: { enabled: true, interval: '30 seconds' } } },
    message: "at '/metrics/serviceMonitor/interval': '30 seconds' does not match pattern",
  },
  {
    why: 'a resource quantity is malformed',
    values: { operator: { resources: { limits: { memory: 'lots' } } } },
    message: "at '/operator/resources/limits/memory'",
  },
  {
    why: 'a pool name is not a Kubernetes name',
    values: { pools: [{ name: 'Billing_Pool' }] },
    message: "at '/pools/0/name': 'Billing_Pool' does not match pattern",
  },
  {
    why: 'a pool has no name',
    values: { pools: [{ spec: {} }] },
    message: "at '/pools/0': missing property 'name'",
  },
  {
    why: 'the api pool is not a valid WORKFLOW_POOL',
    values: { api: { pool: 'a b' } },
    message: "at '/api/pool': 'a b' does not match pattern",
  },
];

/** Refused by the chart's templates (templates/validate.yaml, required). */
const byTemplates: Invalid[] = [
  {
    why: 'the database is given twice',
    values: { database: { url: 'postgres://db/x', existingSecret: { name: 'db', key: 'url' } } },
    message: 'flowpool: set database.url or database.existingSecret.name, not both',
  },
  {
    why: 'the api has no database',
    values: { ...withApi, database: { url: '' } },
    message:
      'flowpool: api.enabled needs the database: set database.url or database.existingSecret.name',
  },
  {
    why: 'the api has no Redis',
    values: { ...withApi, redis: { url: '' } },
    message: 'flowpool: api.enabled needs Redis: set redis.url or redis.existingSecret.name',
  },
  {
    why: 'the api has no tokens',
    values: { ...withApi, api: { enabled: true } },
    message: 'flowpool: api.enabled needs API tokens: set api.tokens.existingSecret',
  },
  {
    why: 'the api tokens are given twice',
    values: {
      ...withApi,
      api: { enabled: true, tokens: { existingSecret: 's', inline: { 'token-for-tests': 'x' } } },
    },
    message: 'flowpool: set api.tokens.existingSecret or api.tokens.inline, not both',
  },
  {
    why: 'migrations have no database',
    values: { migrations: { enabled: true } },
    message: 'flowpool: migrations.enabled needs the database',
  },
  {
    why: 'migrations run in api pods that do not exist',
    values: {
      database: { url: 'postgres://db/x' },
      migrations: { enabled: true, mode: 'initContainer' },
    },
    message: 'flowpool: migrations.mode initContainer runs in the api pods: set api.enabled=true',
  },
  {
    why: 'two operators run without leader election',
    values: { operator: { replicas: 2, leaderElection: { enabled: false } } },
    message: 'flowpool: operator.replicas > 1 needs operator.leaderElection.enabled=true',
  },
  {
    why: 'a pool has no Redis',
    values: { database: { url: 'postgres://db/x' }, pools: [{ name: 'p' }] },
    message: 'flowpool: pools[0] (p) has no Redis',
  },
  {
    why: 'a pool has no database',
    values: { redis: { url: 'redis://r:6379' }, pools: [{ name: 'p' }] },
    message: 'flowpool: pools[0] (p) has no database',
  },
  {
    why: 'a pool is declared twice',
    values: { ...withApi, pools: [{ name: 'p' }, { name: 'p' }] },
    message: 'flowpool: pools[1]: pool flowpool-system/p is declared twice',
  },
  {
    why: 'a pool lies outside the watched namespace',
    values: { ...withApi, operator: { watchNamespace: 'team-a' }, pools: [{ name: 'p' }] },
    message: 'flowpool: pools[0] (flowpool-system/p) is outside operator.watchNamespace team-a',
  },
  {
    why: 'a pool reads Redis from a Secret the operator may not read',
    values: {
      database: { url: 'postgres://db/x' },
      redis: { existingSecret: { name: 'conn', key: 'redis' } },
      rbac: { readSecrets: false },
      pools: [{ name: 'p' }],
    },
    message: 'flowpool: pools[0] (p) reads its Redis URL from a Secret',
  },
  {
    why: 'the ServiceAccount is neither created nor named',
    values: { serviceAccount: { create: false } },
    message: 'serviceAccount.name is required when serviceAccount.create is false',
  },
];

describe('invalid values', () => {
  it.each([...bySchema, ...byTemplates])(
    'are refused by helm template when $why',
    ({ values, message }) => {
      const result = helmTemplateRaw({ values });
      expect(result.status, result.stdout).not.toBe(0);
      expect(result.stderr).toContain(message);
    },
  );

  it.each(bySchema)('are refused by helm lint --strict when $why', ({ values, message }) => {
    const result = helmLint({ values });
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(message);
  });

  // helm lint runs templates in lint mode, where `fail` and `required` are
  // reported (as [INFO]) rather than fatal; the message still shows.
  it.each(byTemplates)('are reported by helm lint when $why', ({ values, message }) => {
    const result = helmLint({ values });
    expect(result.stdout + result.stderr).toContain(message);
  });
});
