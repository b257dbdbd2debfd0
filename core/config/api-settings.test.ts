import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFailure as failure } from '../../test/support/config-error.js';
import { loadApiSettings } from './api-settings.js';

describe('API settings', () => {
  it('applies the documented defaults', () => {
    const settings = loadApiSettings({});
    expect(settings.sizes).toEqual({ eventPayloadBytes: 65_536, executionDataBytes: 262_144 });
    expect(settings.historyPageBytes).toBe(1_048_576);
    expect(settings.tenants.defaults).toEqual({
      requestsPerMinute: 60_000,
      concurrency: 5,
      queue: 100,
    });
    expect(settings.tenants.maxWaitMs).toBe(10_000);
    expect(settings.tenants.overrides.size).toBe(0);
  });

  it('reads the bounds and per-tenant overrides; a field left out keeps the default', () => {
    const settings = loadApiSettings({
      FLOWPOOL_MAX_EVENT_PAYLOAD_BYTES: '4096',
      FLOWPOOL_MAX_EXECUTION_DATA_BYTES: '8192',
      FLOWPOOL_HISTORY_PAGE_BYTES: '65536',
      FLOWPOOL_RATE_LIMIT_PER_MINUTE: '60',
      FLOWPOOL_TENANT_CONCURRENCY: '2',
      FLOWPOOL_TENANT_QUEUE: '4',
      FLOWPOOL_TENANT_LIMITS: '{"acme": {"requestsPerMinute": 600}, "big-co": {"concurrency": 8}}',
    });
    expect(settings.sizes).toEqual({ eventPayloadBytes: 4096, executionDataBytes: 8192 });
    expect(settings.historyPageBytes).toBe(65_536);
    expect(settings.tenants.defaults).toEqual({ requestsPerMinute: 60, concurrency: 2, queue: 4 });
    expect(settings.tenants.overrides.get('acme')).toEqual({
      requestsPerMinute: 600,
      concurrency: 2,
      queue: 4,
    });
    expect(settings.tenants.overrides.get('big-co')).toEqual({
      requestsPerMinute: 60,
      concurrency: 8,
      queue: 4,
    });
  });

  it.each([
    [{ FLOWPOOL_MAX_EVENT_PAYLOAD_BYTES: '2000000' }, 'FLOWPOOL_MAX_EVENT_PAYLOAD_BYTES'],
    [{ FLOWPOOL_HISTORY_PAGE_BYTES: '10' }, 'FLOWPOOL_HISTORY_PAGE_BYTES'],
    [{ FLOWPOOL_RATE_LIMIT_PER_MINUTE: '-1' }, 'FLOWPOOL_RATE_LIMIT_PER_MINUTE'],
    [{ FLOWPOOL_TENANT_LIMITS: '{not json' }, 'FLOWPOOL_TENANT_LIMITS'],
    [{ FLOWPOOL_TENANT_LIMITS: '[]' }, 'FLOWPOOL_TENANT_LIMITS'],
    [{ FLOWPOOL_TENANT_LIMITS: '{"bad tenant!": {}}' }, 'FLOWPOOL_TENANT_LIMITS'],
    [{ FLOWPOOL_TENANT_LIMITS: '{"acme": {"rpm": 5}}' }, 'FLOWPOOL_TENANT_LIMITS'],
    [{ FLOWPOOL_TENANT_LIMITS: '{"acme": {"concurrency": 1.5}}' }, 'FLOWPOOL_TENANT_LIMITS'],
  ])('refuses %o naming %s', (env, variable) => {
    expect(failure(() => loadApiSettings(env)).variable).toBe(variable);
  });
});

describe('the operations token', () => {
  it('is read from the variable or a file, and refused when short', () => {
    expect(loadApiSettings({}).operationsToken).toBeUndefined();
    expect(
      loadApiSettings({ FLOWPOOL_OPERATIONS_TOKEN: 'scrape-token-0123456789' }).operationsToken,
    ).toBe('scrape-token-0123456789');
    const file = path.join(os.tmpdir(), `ops-token-${process.pid}`);
    fs.writeFileSync(file, 'from-a-file-0123456789\n');
    try {
      expect(loadApiSettings({ FLOWPOOL_OPERATIONS_TOKEN_FILE: file }).operationsToken).toBe(
        'from-a-file-0123456789',
      );
    } finally {
      fs.rmSync(file);
    }
    const short = failure(() => loadApiSettings({ FLOWPOOL_OPERATIONS_TOKEN: 'short' }));
    expect(short.variable).toBe('FLOWPOOL_OPERATIONS_TOKEN');
    expect(short.message).not.toContain('short');
    const missing = failure(() =>
      loadApiSettings({ FLOWPOOL_OPERATIONS_TOKEN_FILE: '/nonexistent/ops-token' }),
    );
    expect(missing.variable).toBe('FLOWPOOL_OPERATIONS_TOKEN_FILE');
  });
});
