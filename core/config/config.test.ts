import { describe, expect, it } from 'vitest';
import { configFailure as failure } from '../../test/support/config-error.js';
import { loadApiConfig, loadWorkerConfig } from './config.js';

const base = { DATABASE_URL: 'postgres://u@db/flowpool' };

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadWorkerConfig({ ...base, POD_NAME: 'pool-a-1' });
    expect(config).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      stream: 'workflow:events:global',
      consumerGroup: 'workflow-workers',
      batchSize: 64,
      idleTimeoutMs: 60_000,
      workerCount: 2,
      concurrency: 64,
      databasePoolSize: 10,
      maxDeliveries: 5,
      drainTimeoutMs: 25_000,
      port: 8080,
      logLevel: 'info',
      consumerName: 'pool-a-1',
      relayIntervalMs: 1_000,
      relayUnpublishedAfterMs: 3_000,
      relayRepublishAfterMs: 60_000,
    });
  });

  it('sizes the database pool apart from the slots, and reads as many notices as there are slots', () => {
    const many = loadWorkerConfig({ ...base, WORKFLOW_CONCURRENCY: '500' });
    expect(many).toMatchObject({ concurrency: 500, batchSize: 500, databasePoolSize: 10 });
    const set = loadWorkerConfig({
      ...base,
      WORKFLOW_CONCURRENCY: '16',
      WORKFLOW_REDIS_BATCH_SIZE: '4',
      WORKFLOW_DB_POOL_SIZE: '3',
    });
    expect(set).toMatchObject({ concurrency: 16, batchSize: 4, databasePoolSize: 3 });
  });

  it.each([
    [{}, 'DATABASE_URL', 'is required'],
    [{ ...base, WORKFLOW_DB_POOL_SIZE: '1' }, 'WORKFLOW_DB_POOL_SIZE', 'from 2'],
    [{ ...base, WORKFLOW_DB_POOL_SIZE: '5000' }, 'WORKFLOW_DB_POOL_SIZE', 'to 1000'],
    [{ ...base, DATABASE_URL: 'mysql://x/y' }, 'DATABASE_URL', 'postgres'],
    [{ ...base, REDIS_URL: 'not a url' }, 'REDIS_URL', 'URL'],
    [{ ...base, WORKFLOW_CONCURRENCY: 'eight' }, 'WORKFLOW_CONCURRENCY', 'whole number'],
    [{ ...base, WORKFLOW_WORKER_COUNT: '0' }, 'WORKFLOW_WORKER_COUNT', 'from 1'],
    [{ ...base, PORT: '70000' }, 'PORT', 'to 65535'],
    [{ ...base, LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'one of'],
    [
      { ...base, WORKFLOW_REDIS_IDLE_TIMEOUT_MS: '5000' },
      'WORKFLOW_REDIS_IDLE_TIMEOUT_MS',
      'lock TTL',
    ],
    [{ ...base, WORKFLOW_POOL: 'a b' }, 'WORKFLOW_POOL', 'letters'],
    [{ ...base, WORKFLOW_RELAY_INTERVAL_MS: '10' }, 'WORKFLOW_RELAY_INTERVAL_MS', 'from 50'],
    [
      { ...base, WORKFLOW_RELAY_REPUBLISH_AFTER_MS: 'soon' },
      'WORKFLOW_RELAY_REPUBLISH_AFTER_MS',
      'whole number',
    ],
    [
      { ...base, WORKFLOW_RELAY_UNPUBLISHED_AFTER_MS: '-1' },
      'WORKFLOW_RELAY_UNPUBLISHED_AFTER_MS',
      'from 0',
    ],
  ])('rejects %j naming %s', (env, variable, expected) => {
    const error = failure(() => loadWorkerConfig(env));
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toContain(expected);
    expect(error.message).not.toContain('\n');
  });

  it('listens on all interfaces unless HOST names an address', () => {
    expect(loadApiConfig(base).host).toBe('0.0.0.0');
    expect(loadApiConfig({ ...base, HOST: '127.0.0.1' }).host).toBe('127.0.0.1');
    expect(loadApiConfig({ ...base, HOST: '::1' }).host).toBe('::1');
    const error = failure(() => loadApiConfig({ ...base, HOST: 'example.com' }));
    expect(error.variable).toBe('HOST');
    expect(error.message).toContain('IP address');
  });

  it('reads API tokens as a JSON object and rejects anything else', () => {
    expect(
      loadApiConfig({ ...base, FLOWPOOL_API_TOKENS: '{"secret-token-a":"acme"}' }).tokens.get(
        'secret-token-a',
      ),
    ).toBe('acme');
    expect(failure(() => loadApiConfig({ ...base, FLOWPOOL_API_TOKENS: '[1]' })).variable).toBe(
      'FLOWPOOL_API_TOKENS',
    );
    expect(
      failure(() => loadApiConfig({ ...base, FLOWPOOL_API_TOKENS: '{"short":"acme"}' })).variable,
    ).toBe('FLOWPOOL_API_TOKENS');
    expect(
      failure(() => loadApiConfig({ ...base, FLOWPOOL_API_TOKENS_FILE: '/nonexistent' })).variable,
    ).toBe('FLOWPOOL_API_TOKENS_FILE');
  });

  it('refuses a tenant name that a stream notice could not carry, naming it', () => {
    const tenant = 'acme corp';
    const error = failure(() =>
      loadApiConfig({ ...base, FLOWPOOL_API_TOKENS: JSON.stringify({ 'secret-token-a': tenant }) }),
    );
    expect(error.variable).toBe('FLOWPOOL_API_TOKENS');
    expect(error.message).toContain('"acme corp"');
    expect(error.message).toContain('1-200 characters');
  });
});
