import { describe, expect, it } from 'vitest';
import { redactText, redactUrl } from './redact.js';

describe('redactUrl', () => {
  it('masks the password of the userinfo and keeps the rest', () => {
    expect(redactUrl('redis://user:secret@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(redactUrl('redis://host:6379')).toBe('redis://host:6379');
  });

  it('masks secret query parameters such as ?password=', () => {
    expect(redactUrl('postgres://db/app?user=svc&password=hunter2&sslmode=require')).toBe(
      'postgres://db/app?user=svc&password=***&sslmode=require',
    );
  });

  it('names an unparseable URL without echoing it', () => {
    expect(redactUrl('not a url :: hunter2')).toBe('<unparseable URL>');
  });
});

describe('redactText', () => {
  it.each([
    [
      'connect to postgres://svc:hunter2@db:5432/app failed',
      'connect to postgres://svc:***@db:5432/app failed',
    ],
    ['GET https://svc:s3cr3t@hooks.example/x -> 500', 'GET https://svc:***@hooks.example/x -> 500'],
    ['redis://:onlypass@r:6379 refused', 'redis://:***@r:6379 refused'],
    ['url postgres://db/app?password=hunter2&x=1', 'url postgres://db/app?password=***&x=1'],
    ['host=db user=svc password=hunter2 dbname=app', 'host=db user=svc password=*** dbname=app'],
    ['Authorization: Bearer abc.def-ghi', 'Authorization: Bearer ***'],
  ])('%s', (input, expected) => {
    expect(redactText(input)).toBe(expected);
    expect(redactText(input)).not.toMatch(/hunter2|s3cr3t|onlypass|abc\.def/);
  });

  it('leaves text without credentials alone', () => {
    const text = 'guard threw: assignee must be set (seq 4, https://example.com/docs)';
    expect(redactText(text)).toBe(text);
  });
});
