import { beforeAll, describe, expect, it } from 'vitest';
import { childEnv, requireBuild, runCli } from './support.js';

const valid = {
  DATABASE_URL: 'postgres://flowpool@127.0.0.1:1/flowpool',
  REDIS_URL: 'redis://127.0.0.1:1',
};

describe('a worker started with a bad configuration', () => {
  beforeAll(() => requireBuild());

  it.each([
    ['WORKFLOW_CONCURRENCY', { ...valid, WORKFLOW_CONCURRENCY: 'eight' }, 'whole number'],
    ['DATABASE_URL', { REDIS_URL: valid.REDIS_URL }, 'is required'],
    ['REDIS_URL', { ...valid, REDIS_URL: 'http://redis:6379' }, 'redis'],
    [
      'WORKFLOW_REDIS_IDLE_TIMEOUT_MS',
      { ...valid, WORKFLOW_REDIS_IDLE_TIMEOUT_MS: '2000' },
      'lock TTL',
    ],
    ['LOG_LEVEL', { ...valid, LOG_LEVEL: 'loud' }, 'one of'],
    ['WORKFLOW_RELAY_INTERVAL_MS', { ...valid, WORKFLOW_RELAY_INTERVAL_MS: '1' }, 'from 50'],
    ['FLOWPOOL_WORKFLOWS', { ...valid, FLOWPOOL_WORKFLOWS: '/nonexistent/workflows' }, 'no file'],
  ])('exits 2 with one line naming %s', async (variable, vars, expected) => {
    const { code, stdout, stderr } = await runCli(['worker'], childEnv(vars), 20_000);
    expect(code).toBe(2);
    const lines = `${stdout}${stderr}`.split('\n').filter((line) => line.trim() !== '');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 60, variable, component: 'worker' });
    expect(String(line.msg)).toContain(variable);
    expect(String(line.msg)).toContain(expected);
  });

  it('the tools exit 2 with the same one line', async () => {
    const { code, stdout, stderr } = await runCli(
      ['inspect', 'x', '--tenant', 'acme'],
      childEnv({ DATABASE_URL: 'mysql://db/x' }),
    );
    expect(code).toBe(2);
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toMatchObject({ variable: 'DATABASE_URL', component: 'cli' });
  });
});
