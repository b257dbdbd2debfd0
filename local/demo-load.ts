/** The `--demo` load: executions and bursts of events sent through the HTTP API, as an application would. */

export interface DemoTally {
  accepted: number;
  refused: number;
  /** comments accepted per execution: what each execution's commentCount must end at. */
  expected: Map<string, number>;
  acceptLatenciesMs: number[];
}

export class DemoLoad {
  readonly tally: DemoTally = {
    accepted: 0,
    refused: 0,
    expected: new Map(),
    acceptLatenciesMs: [],
  };

  /** Numbers every event across bursts, so no two share an idempotency key. */
  private sent = 0;

  constructor(
    private readonly apiUrl: string,
    private readonly token: string,
  ) {}

  private async call(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async createExecutions(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const response = await this.call('POST', '/v1/executions', {
        workflow: 'ticket-lifecycle',
        input: { title: `demo ticket ${i}` },
      });
      if (response.status !== 201)
        throw new Error(
          `starting an execution answered ${response.status}: ${await response.text()}`,
        );
      const { executionId } = (await response.json()) as { executionId: string };
      ids.push(executionId);
      this.tally.expected.set(executionId, 0);
    }
    return ids;
  }

  /** Sends `events` comments spread over the executions, `parallel` requests at a time. */
  async burst(ids: readonly string[], events: number, parallel = 16): Promise<void> {
    const end = this.sent + events;
    const sender = async () => {
      while (this.sent < end) {
        const index = this.sent++;
        const executionId = ids[index % ids.length]!;
        const started = performance.now();
        const response = await this.call('POST', `/v1/executions/${executionId}/events`, {
          event: 'comment',
          payload: { text: `comment ${index}` },
          idempotencyKey: `demo-${executionId}-${index}`,
        }).catch(() => undefined);
        this.tally.acceptLatenciesMs.push(performance.now() - started);
        if (response?.status === 202) {
          this.tally.accepted += 1;
          this.tally.expected.set(executionId, (this.tally.expected.get(executionId) ?? 0) + 1);
        } else {
          this.tally.refused += 1;
        }
        await response?.body?.cancel();
      }
    };
    await Promise.all(Array.from({ length: parallel }, sender));
  }

  /** Compares every execution's commentCount with what was accepted for it. */
  async check(): Promise<{ applied: number; duplicates: number; lost: number }> {
    let applied = 0;
    let duplicates = 0;
    let lost = 0;
    for (const [executionId, expected] of this.tally.expected) {
      const response = await this.call('GET', `/v1/executions/${executionId}`);
      const body = (await response.json()) as { data: { commentCount: number } };
      const actual = body.data.commentCount;
      applied += Math.min(actual, expected);
      duplicates += Math.max(0, actual - expected);
      lost += Math.max(0, expected - actual);
    }
    return { applied, duplicates, lost };
  }
}
