import type { RelayStore } from '../store/event-store.js';
import type { StreamTransport } from '../stream/transport.js';

export interface RelayOptions {
  /** A row never published is resent once it is this old (its publisher likely failed). */
  unpublishedAfterMs: number;
  /** A published row still pending after this long is resent (the notice may be lost). */
  republishAfterMs: number;
  batchSize: number;
  /**
   * Trim what every consumer group has consumed at most this often (default
   * 30 s). XADD sets no MAXLEN, so without this the stream keeps every
   * notice ever sent; each pass costs an XINFO GROUPS, an XPENDING per group
   * and an approximate XTRIM, so there is no need to do it every relay pass.
   */
  trimEveryMs?: number;
}

const DEFAULT_TRIM_EVERY_MS = 30_000;

/**
 * Resends notices the stream may have lost: rows whose XADD failed after the
 * commit, and rows still pending long after publication (Redis flushed,
 * trimmed, or restarted without persistence). Also keeps the stream short by
 * trimming the entries every consumer group has consumed.
 */
export class OutboxRelay {
  private nextTrimAt = 0;

  constructor(
    private readonly store: RelayStore,
    private readonly transport: StreamTransport,
    private readonly options: RelayOptions,
  ) {}

  /** One pass; returns how many notices were resent. */
  async runOnce(): Promise<number> {
    // The group vanishes with an emptied Redis; recreate it before resending.
    await this.transport.ensureGroup();
    const resent = await this.republish();
    await this.trimWhenDue();
    return resent;
  }

  private async republish(): Promise<number> {
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

  /** Trims after republishing, so a failed trim never holds back a resend. */
  private async trimWhenDue(): Promise<void> {
    const now = Date.now();
    if (now < this.nextTrimAt) return;
    this.nextTrimAt = now + (this.options.trimEveryMs ?? DEFAULT_TRIM_EVERY_MS);
    await this.transport.trimConsumed();
  }
}
