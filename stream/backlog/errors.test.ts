import { describe, expect, it } from 'vitest';
import { BacklogError, isNoGroup, toReadError } from './errors.js';

/** An error shaped like the ones Node's net and dns modules raise. */
function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const retriesExhausted = new Error(
  'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.',
);

describe('toReadError', () => {
  it.each([
    ['ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.7:6379', 'connection refused'],
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND redis.example', 'host name not found'],
    ['EAI_AGAIN', 'getaddrinfo EAI_AGAIN redis.example', 'could not be resolved'],
    ['ETIMEDOUT', 'connect ETIMEDOUT', 'no connection within the connect timeout'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate', 'TLS handshake failed'],
  ])('names the connection failure %s instead of the retry wording', (code, detail, words) => {
    const error = toReadError(retriesExhausted, {
      status: 'reconnecting',
      lastError: systemError(code, detail),
    });
    expect(error.code).toBe('RedisUnavailable');
    expect(error.message).toContain(words);
    expect(error.message).toContain(detail);
    expect(error.message).not.toContain('maxRetriesPerRequest');
  });

  it('falls back to the command error and the connection state when no cause is known', () => {
    expect(toReadError(new Error('Connection is closed.'), { status: 'end' })).toEqual({
      code: 'RedisUnavailable',
      message: 'Redis unavailable: Connection is closed. (connection end)',
    });
  });

  it('does not pass on the retry option wording when nothing else is known', () => {
    const exhausted = Object.assign(new Error(retriesExhausted.message), {
      name: 'MaxRetriesPerRequestError',
    });
    const error = toReadError(exhausted, { status: 'reconnecting' });
    expect(error.message).toBe(
      'Redis unavailable: the command failed and the reconnect did not succeed in time (connection reconnecting)',
    );
  });

  it('maps Redis error codes, not their wording', () => {
    expect(toReadError(new Error('WRONGTYPE Operation against a key')).code).toBe('WrongType');
    expect(toReadError(new Error('WRONGPASS invalid username-password pair')).code).toBe(
      'AuthenticationFailed',
    );
    expect(toReadError(new Error('NOAUTH Authentication required.')).code).toBe(
      'AuthenticationFailed',
    );
    expect(toReadError(new Error('NOPERM User x has no permissions')).code).toBe(
      'PermissionDenied',
    );
    expect(toReadError(new Error('LOADING Redis is loading the dataset')).code).toBe(
      'RedisUnavailable',
    );
  });

  it.each([
    ['ERR unknown command', "ERR unknown command 'xinfo', with args beginning with: 'GROUPS'"],
    ['READONLY', "READONLY You can't write against a read only replica."],
    ['NOSCRIPT', 'NOSCRIPT No matching script. Please use EVAL.'],
    ['MOVED', 'MOVED 3999 127.0.0.1:6381'],
  ])('reports the refused command %s as CommandFailed, not as a connection failure', (_, reply) => {
    // Even with a stale connection failure on record: Redis answered, so it was reachable.
    const error = toReadError(new Error(reply), {
      status: 'ready',
      lastError: systemError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.7:6379'),
    });
    expect(error).toEqual({
      code: 'CommandFailed',
      message: `Redis refused the command: ${reply}`,
    });
  });

  it.each([
    'LOADING Redis is loading the dataset in memory',
    'BUSY Redis is busy running a script.',
    'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no.',
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
  ])('keeps a Redis that is not serving yet (%s) RedisUnavailable', (reply) => {
    expect(toReadError(new Error(reply), { status: 'ready' })).toEqual({
      code: 'RedisUnavailable',
      message: `Redis unavailable: ${reply} (connection ready)`,
    });
  });

  it('reports a refused MULTI without a queued error as CommandFailed', () => {
    expect(
      toReadError(new Error('EXECABORT Transaction discarded because of previous errors.')),
    ).toEqual({
      code: 'CommandFailed',
      message:
        'Redis refused the command: EXECABORT Transaction discarded because of previous errors.',
    });
  });

  it('reads the reason of a refused MULTI from its first queued error', () => {
    const aborted = Object.assign(new Error('EXECABORT Transaction discarded because of: NOPERM'), {
      previousErrors: [new Error("NOPERM this user has no permissions to run the 'xinfo' command")],
    });
    expect(toReadError(aborted)).toMatchObject({
      code: 'PermissionDenied',
      message: expect.stringContaining("run the 'xinfo' command"),
    });
  });

  it('never passes on a password the client or Redis quoted', () => {
    const quoting = systemError(
      'ECONNREFUSED',
      'connect ECONNREFUSED for redis://svc:hunter2@10.0.0.7:6379?password=s3cr3t',
    );
    const unreachable = toReadError(retriesExhausted, {
      status: 'reconnecting',
      lastError: quoting,
    });
    const refused = toReadError(
      Object.assign(new Error('ERR unknown option password=hunter2'), { name: 'ReplyError' }),
    );
    for (const error of [unreachable, refused]) {
      expect(error.message).not.toMatch(/hunter2|s3cr3t/);
      expect(error.message).toContain('***');
    }
  });

  it('keeps the code of its own errors', () => {
    expect(toReadError(new BacklogError('Timeout', 'reading s: no answer within 5 ms'))).toEqual({
      code: 'Timeout',
      message: 'reading s: no answer within 5 ms',
    });
  });

  it('recognises NOGROUP by its code', () => {
    expect(isNoGroup(new Error('NOGROUP No such key or consumer group'))).toBe(true);
    expect(isNoGroup(new Error('ERR something about NOGROUP'))).toBe(false);
  });
});
