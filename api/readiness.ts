import { withTimeout } from '../core/timing.js';

/** What /readyz reports: each dependency's check and whether the process takes traffic. */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, string>;
}

export type Readiness = () => Promise<ReadinessReport>;

export interface ReadinessSources {
  postgres: { ping(): Promise<void> };
  redis: { ping(): Promise<void> };
  /** True while the process drains: it stays alive but should get no new traffic. */
  stopping?: () => boolean;
  /** Each ping must answer within this time (default 2000 ms). */
  timeoutMs?: number;
}

async function probe(ping: () => Promise<void>, timeoutMs: number): Promise<string> {
  const timedOut = new Error('timeout');
  try {
    await withTimeout(ping(), timeoutMs, () => timedOut);
    return 'ok';
  } catch (error) {
    return error === timedOut ? 'timeout' : 'unreachable';
  }
}

/** Ready when PostgreSQL and Redis both answer a ping in time and the process is not stopping. */
export function dependencyReadiness(sources: ReadinessSources): Readiness {
  const timeoutMs = sources.timeoutMs ?? 2_000;
  return async () => {
    const [postgres, redis] = await Promise.all([
      probe(() => sources.postgres.ping(), timeoutMs),
      probe(() => sources.redis.ping(), timeoutMs),
    ]);
    const checks: Record<string, string> = { postgres, redis };
    if (sources.stopping?.()) checks.process = 'stopping';
    return { ready: Object.values(checks).every((check) => check === 'ok'), checks };
  };
}

/**
 * The same readiness, asked at most once: for a request whose items fail
 * alike (a batch during an outage), so it pings once, not once per item.
 */
export function askedOnce(readiness: Readiness): Readiness {
  let report: Promise<ReadinessReport> | undefined;
  return () => {
    report ??= readiness();
    return report;
  };
}
