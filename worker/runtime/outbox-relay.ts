import type { EventStore } from '../store/event-store.js';
import type { StreamTransport } from '../stream/transport.js';

export interface RelayOptions {
  /** A row never published is resent once it is this old (its publisher likely failed). */
  unpublishedAfterMs: number;
  /** A published row still pending after this long is resent (the notice may be lost). */
  republishAfterMs: number;
  batchSize: number;
}

/**
 * Resends notices the stream may have lost: rows whose XADD failed after the
 * commit, and rows still pending long after publication (Redis flushed,
 * trimmed, or restarted without persistence).
 */
export class OutboxRelay {
  constructor(
    private readonly store: EventStore,
    private readonly transport: StreamTransport,
    private readonly options: RelayOptions,
  ) {}

  /** One pass; returns how many notices were resent. */
  async runOnce(): Promise<number> {
    // The group vanishes with an emptied Redis; recreate it before resending.
    await this.transport.ensureGroup();
    let total = 0;
    for (;;) {
      const refs = await this.store.claimRepublishable({
        unpublishedOlderThanMs: this.options.unpublishedAfterMs,
        stalePublishedMs: this.options.republishAfterMs,
        limit: this.options.batchSize,
      });
      if (refs.length === 0) return total;
      await this.transport.publish(refs);
      total += refs.length;
      if (refs.length < this.options.batchSize) return total;
    }
  }
}
