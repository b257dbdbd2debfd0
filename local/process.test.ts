import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './process.js';

function listen(port: number, host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port, host }, () => resolve(server));
  });
}

describe('freePort', () => {
  it('gives ports below the ephemeral range that a server can take on every interface', async () => {
    const ports = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    for (const port of ports) {
      // Outgoing connections take their local ports from 32768 up: they cannot race for these.
      expect(port).toBeGreaterThanOrEqual(20_000);
      expect(port).toBeLessThan(32_768);
      const server = await listen(port, '::');
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
