import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MissingServerError, pgBinary } from './postgres-server.js';
import { redisBinary } from './redis-server.js';

describe('finding the server programs the local mode runs', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-nobin-'));

  it('says exactly what to install when PostgreSQL is missing', () => {
    expect(() => pgBinary('initdb', [empty])).toThrow(MissingServerError);
    expect(() => pgBinary('initdb', [empty])).toThrow('sudo apt-get install postgresql');
  });

  it('says exactly what to install when redis-server is missing', () => {
    expect(() => redisBinary([empty])).toThrow('sudo apt-get install redis-server');
  });

  it('finds them where the packages put them', () => {
    expect(fs.existsSync(pgBinary('postgres'))).toBe(true);
    expect(fs.existsSync(redisBinary())).toBe(true);
  });
});
