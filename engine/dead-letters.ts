import type { DeadLetterStore, EventRecord } from '../store/event-store.js';
import type { DeadLetter, StreamTransport } from '../stream/transport.js';

/** Listing and retrying dead letters; PostgreSQL says what is dead, the stream keeps the notices. */
export class DeadLetters {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly transport: StreamTransport,
  ) {}

  list(tenant: string, limit = 100): Promise<Array<EventRecord & { error: string | null }>> {
    return this.store.listDead(tenant, limit);
  }

  /** Every entry of the dead-letter stream, including notices no tenant owns (garbage). */
  listStream(limit = 100): Promise<DeadLetter[]> {
    return this.transport.listDeadLetters(limit);
  }

  /** Puts a dead event back to pending, republishes its notice and drops its dead-letter entries. */
  async retry(tenant: string, eventId: string): Promise<{ executionId: string }> {
    const ref = await this.store.reviveDead(tenant, eventId);
    await this.transport.publish([ref]);
    await this.store.markPublished(tenant, [eventId]);
    await this.transport.removeDeadLettersOf(tenant, ref.executionId);
    return { executionId: ref.executionId };
  }
}
