import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../test/support/runtime.js';
import { createFlowpoolClient, type FlowpoolClient } from './index.js';

/**
 * A PostgreSQL proxy that, once armed, lets the next statement naming
 * `marker` through, waits until the server reports it finished
 * (ReadyForQuery: committed, for an autocommit statement), then drops that
 * answer and resets the client's connection: a failure after the commit.
 */
class CutAfterCommit {
  private armed: string | undefined;
  cuts = 0;
  private constructor(private readonly server: net.Server) {}

  static async start(target: { host: string; port: number }): Promise<CutAfterCommit> {
    let proxy: CutAfterCommit | undefined;
    const server = net.createServer((client) => proxy!.pipe(client, target));
    proxy = new CutAfterCommit(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  arm(marker: string): void {
    this.armed = marker;
  }

  private pipe(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.connect(target.port, target.host);
    let watching = false;
    let answer = Buffer.alloc(0);
    client.on('data', (chunk) => {
      if (this.armed !== undefined && chunk.includes(this.armed)) {
        this.armed = undefined;
        watching = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!watching) {
        client.write(chunk);
        return;
      }
      // Messages: a type byte and a 4-byte length (which counts itself).
      answer = Buffer.concat([answer, chunk]);
      let at = 0;
      while (answer.length >= at + 5) {
        const type = String.fromCharCode(answer[at]!);
        at += 1 + answer.readUInt32BE(at + 1);
        if (type === 'Z') {
          this.cuts++;
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
      }
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  }

  async close(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('client enqueue after a failure past the commit', () => {
  let rt: TestRuntime;
  let proxy: CutAfterCommit;
  let client: FlowpoolClient;

  beforeAll(async () => {
    rt = await startTestRuntime();
    const url = new URL(rt.db.url);
    proxy = await CutAfterCommit.start({ host: url.hostname, port: Number(url.port) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    client = createFlowpoolClient({
      databaseUrl: url.toString(),
      redisUrl: rt.redisHandle.url,
      tenant: 'acme',
      stream: rt.settings.stream,
      group: rt.settings.group,
    });
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await rt.close();
  });

  it('retries with the same idempotency key of its own: one event, not two', async () => {
    await client.startExecution({ workflow: 'ticket-lifecycle', executionId: 'K-1' });
    // The payload travels with every run of the enqueue statement (its text only once per connection).
    proxy.arm('cut-after-commit-1');
    const result = await client.enqueueEvent({
      executionId: 'K-1',
      event: 'comment',
      payload: { text: 'cut-after-commit-1' },
    });
    expect(proxy.cuts).toBe(1);
    expect(result).toMatchObject({ seq: 1, duplicate: false });
    const history = await client.getHistory('K-1');
    expect(history.map((event) => [event.seq, event.event, event.eventId])).toEqual([
      [1, 'comment', result.eventId],
    ]);
    const stored = await rt.db.knex('workflow_events').where({ execution_id: 'K-1' });
    expect(stored).toHaveLength(1);
    expect(stored[0].idempotency_key).toMatch(/^client:/);
  });

  it("keeps the caller's own key across its retries", async () => {
    await client.startExecution({ workflow: 'ticket-lifecycle', executionId: 'K-2' });
    proxy.arm('cut-after-commit-2');
    const result = await client.enqueueEvent({
      executionId: 'K-2',
      event: 'comment',
      payload: { text: 'cut-after-commit-2' },
      idempotencyKey: 'order-9',
    });
    expect(proxy.cuts).toBe(2);
    const stored = await rt.db.knex('workflow_events').where({ execution_id: 'K-2' });
    expect(stored.map((row) => [row.event_id, row.idempotency_key])).toEqual([
      [result.eventId, 'order-9'],
    ]);
  });
});
