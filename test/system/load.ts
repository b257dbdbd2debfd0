/**
 * Load sent through the flowpool HTTP API the way an application sends it:
 * executions started, then events enqueued in lanes. Each lane owns some
 * executions and sends their events one after the other, so the order
 * events were accepted in is the order each execution must apply them in.
 */

/** One accepted event, as the API answered. */
export interface SentEvent {
  eventId: string;
  seq: number;
  event: string;
  text?: string;
}

/** What one enqueued event looks like: its body for the API. */
export interface EventBody {
  event: string;
  payload?: Record<string, unknown>;
  idempotencyKey: string;
}

export class ApiLoad {
  /** Accepted events per execution, in the order accepted. */
  readonly sent = new Map<string, SentEvent[]>();
  accepted = 0;
  /** Retried requests (5xx or no answer), for the report. */
  retries = 0;
  /** When the first event of each send() was accepted. */
  readonly firstAcceptedAt: number[] = [];

  constructor(
    private readonly apiUrl: string,
    private readonly token: string,
  ) {}

  /** POSTs until a definite answer; 5xx and dropped connections are retried as they are. */
  private async post(route: string, body: unknown, accept: number[]): Promise<unknown> {
    const deadline = Date.now() + 60_000;
    let last = '';
    while (Date.now() < deadline) {
      let status = 0;
      let text = '';
      try {
        const response = await fetch(`${this.apiUrl}${route}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        status = response.status;
        text = await response.text();
      } catch (error) {
        last = String(error);
      }
      if (accept.includes(status)) return text === '' ? {} : JSON.parse(text);
      if (status !== 0) {
        last = `${status} ${text.slice(0, 300)}`;
        if (status < 500) throw new Error(`POST ${route}: unexpected ${last}`);
      }
      this.retries += 1;
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200));
    }
    throw new Error(`POST ${route}: no answer within 60 s (last: ${last})`);
  }

  /** Starts `ids` as ticket-lifecycle executions, `lanes` requests at a time. */
  async start(ids: readonly string[], lanes: number): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < ids.length) {
          const executionId = ids[next++]!;
          await this.post(
            '/v1/executions',
            { workflow: 'ticket-lifecycle', executionId },
            [201, 409],
          );
          if (!this.sent.has(executionId)) this.sent.set(executionId, []);
        }
      }),
    );
  }

  /**
   * Sends `rounds` events to every execution: round by round within each
   * lane, one request at a time per lane. `body(id, round)` gives each one.
   */
  async send(
    ids: readonly string[],
    rounds: number,
    lanes: number,
    body: (executionId: string, round: number) => EventBody,
  ): Promise<void> {
    let first = true;
    const owned = Array.from({ length: lanes }, (_, lane) =>
      ids.filter((_, index) => index % lanes === lane),
    );
    await Promise.all(
      owned.map(async (own) => {
        for (let round = 0; round < rounds; round += 1) {
          for (const executionId of own) {
            const request = body(executionId, round);
            const answer = (await this.post(
              `/v1/executions/${executionId}/events`,
              request,
              [202],
            )) as { eventId: string; seq: number };
            if (first) {
              first = false;
              this.firstAcceptedAt.push(Date.now());
            }
            const text = request.payload?.text;
            this.sent.get(executionId)!.push({
              eventId: answer.eventId,
              seq: answer.seq,
              event: request.event,
              ...(typeof text === 'string' ? { text } : {}),
            });
            this.accepted += 1;
          }
        }
      }),
    );
  }
}
