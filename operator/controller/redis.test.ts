import { describe, expect, it } from 'vitest';
import { API_VERSION, KIND, type WorkflowWorkerPool, withDefaults } from '../api/pool.js';
import { KubeApiError } from '../kube/client.js';
import { BacklogConnections, RedisUrlResolver } from './redis.js';

function pool(redis: Record<string, unknown>): WorkflowWorkerPool {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'p', namespace: 'ns' },
    spec: withDefaults({ image: 'i', redis, database: { url: 'postgres://db/x' } }),
  };
}

describe('RedisUrlResolver', () => {
  it('takes spec.redis.url as is, after checking it', async () => {
    const resolver = new RedisUrlResolver({
      readSecretKey: async () => ({ found: 'secret-missing' }),
    });
    expect(await resolver.resolve(pool({ url: 'redis://r:6379' }))).toEqual({
      ok: true,
      url: 'redis://r:6379',
    });
  });

  it('reads the Secret once per TTL and reports what is missing', async () => {
    let now = 0;
    let reads = 0;
    const values: Record<string, string> = { url: 'rediss://:pw@r:6380/0', bad: 'http://x' };
    const resolver = new RedisUrlResolver(
      {
        readSecretKey: async (_ns, name, key) => {
          reads++;
          if (name !== 'redis') return { found: 'secret-missing' };
          const value = values[key];
          return value === undefined ? { found: 'key-missing' } : { found: 'value', value };
        },
      },
      1_000,
      () => now,
    );
    const ref = (name: string, key: string) => pool({ urlSecretRef: { name, key } });
    expect(await resolver.resolve(ref('redis', 'url'))).toEqual({
      ok: true,
      url: 'rediss://:pw@r:6380/0',
    });
    values.url = 'redis://rotated:6379';
    expect(await resolver.resolve(ref('redis', 'url'))).toMatchObject({
      url: 'rediss://:pw@r:6380/0',
    });
    expect(reads).toBe(1);
    now = 1_001;
    expect(await resolver.resolve(ref('redis', 'url'))).toMatchObject({
      url: 'redis://rotated:6379',
    });
    expect(await resolver.resolve(ref('nope', 'url'))).toMatchObject({
      ok: false,
      cause: 'secret-missing',
    });
    expect(await resolver.resolve(ref('redis', 'other'))).toMatchObject({
      ok: false,
      cause: 'key-missing',
    });
    expect(await resolver.resolve(ref('redis', 'bad'))).toMatchObject({
      ok: false,
      cause: 'not-a-redis-url',
    });
  });

  it('reads a forgotten pool’s Secret again at once, though its TTL has not run out', async () => {
    let reads = 0;
    let value = 'redis://before:6379';
    const resolver = new RedisUrlResolver(
      {
        readSecretKey: async () => {
          reads++;
          return { found: 'value', value };
        },
      },
      60_000,
      () => 0,
    );
    const deployed = pool({ urlSecretRef: { name: 'redis', key: 'url' } });
    expect(await resolver.resolve(deployed)).toMatchObject({ url: 'redis://before:6379' });
    // The pool is deleted, its Secret rotated, and the pool created again.
    resolver.forget('ns', 'p');
    value = 'redis://after:6379';
    expect(await resolver.resolve(deployed)).toMatchObject({ url: 'redis://after:6379' });
    expect(reads).toBe(2);
  });

  it('says the same, and nothing of the value, whether the Secret, its key or a usable value is missing', async () => {
    const secret: Record<string, string> = {
      password: 'hunter2:s3cr3t-token',
      path: 'not a url at all',
      http: 'https://user:pw@api.internal:443/x',
    };
    const resolver = new RedisUrlResolver({
      readSecretKey: async (_ns, name, key) => {
        if (name !== 'app') return { found: 'secret-missing' };
        const value = secret[key];
        return value === undefined ? { found: 'key-missing' } : { found: 'value', value };
      },
    });
    const shown = async (name: string, key: string) => {
      const result = await resolver.resolve(pool({ urlSecretRef: { name, key } }));
      if (result.ok) throw new Error('expected a failure');
      return {
        reason: result.reason,
        message: result.message.replace(`name ${name}, key ${key}`, '<ref>'),
      };
    };
    const answers = [
      await shown('missing', 'url'),
      await shown('app', 'url'),
      await shown('app', 'password'),
      await shown('app', 'path'),
      await shown('app', 'http'),
    ];
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]).toEqual({
      reason: 'SecretUnreadable',
      message:
        'cannot read the Redis URL from the Secret reference spec.redis.urlSecretRef (<ref>); it must name a Secret of this namespace and a key whose value is a redis:// or rediss:// URL',
    });
    const text = JSON.stringify(answers);
    for (const word of ['hunter2', 's3cr3t', 'https', 'api.internal', 'not a url', 'exist']) {
      expect(text).not.toContain(word);
    }
  });

  it('tells a read the operator is refused apart (that depends only on its RBAC), naming what to do', async () => {
    const resolver = new RedisUrlResolver({
      readSecretKey: async () => {
        throw new KubeApiError(403, 'Forbidden', 'secrets "app" is forbidden');
      },
    });
    const result = await resolver.resolve(pool({ urlSecretRef: { name: 'app', key: 'url' } }));
    expect(result).toMatchObject({
      ok: false,
      reason: 'SecretAccessDenied',
      message: expect.stringMatching(
        /^the operator may not read Secret app in namespace ns .*rbac\.secretNamespaces.*give spec\.redis\.url.*\(the API server said: secrets "app" is forbidden\)$/,
      ),
    });
  });

  it('does not cache a failure to reach the API', async () => {
    let calls = 0;
    const resolver = new RedisUrlResolver({
      readSecretKey: async () => {
        calls++;
        if (calls === 1) throw new Error('connection refused');
        return { found: 'value', value: 'redis://r:1' };
      },
    });
    const p = pool({ urlSecretRef: { name: 's', key: 'k' } });
    expect(await resolver.resolve(p)).toMatchObject({ ok: false, reason: 'SecretUnreadable' });
    expect(await resolver.resolve(p)).toMatchObject({ ok: true });
  });
});

describe('BacklogConnections', () => {
  it('shares one client per URL and closes it when the last pool leaves', () => {
    const opened: string[] = [];
    const closed: string[] = [];
    const connections = new BacklogConnections((url) => {
      opened.push(url);
      return {
        client: {} as never,
        close: () => closed.push(url),
      };
    });
    connections.use('a', 'redis://one');
    connections.use('b', 'redis://one');
    expect(opened).toEqual(['redis://one']);
    connections.use('a', 'redis://two');
    expect(closed).toEqual([]);
    connections.release('b');
    expect(closed).toEqual(['redis://one']);
    expect(connections.size).toBe(1);
    connections.closeAll();
    expect(closed).toEqual(['redis://one', 'redis://two']);
  });
});
