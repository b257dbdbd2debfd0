/**
 * The scenario's timeline: one sample per second of what each part of the
 * system reported, kept in memory and written as JSON, CSV and an SVG chart
 * under test-artifacts/ (git-ignored; CI keeps the folder as an artifact).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scalingChartSvg } from '../../local/chart.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where this suite's artifacts go. */
export const ARTIFACT_DIR = path.join(ROOT, 'test-artifacts', 'system');

export interface TimelineSample {
  /** Seconds since the recorder started. */
  t: number;
  at: string;
  /** What the scenario was doing (idle, burst-1, drain-1, ...). */
  phase: string;
  /** XINFO as the test reads it. */
  backlog: number | null;
  lag: number | null;
  pending: number | null;
  lagSource: string | null;
  /** The pool's status. */
  desired: number | null;
  statusBacklog: number | null;
  lastScaleReason: string | null;
  scalingReason: string | null;
  /** The Deployment: spec.replicas and status.readyReplicas. */
  deploymentReplicas: number | null;
  readyReplicas: number | null;
  /** The node agent's processes: running (not asked to stop) and terminating. */
  running: number;
  terminating: number;
  /** Events accepted by the API, and applied (from PostgreSQL). */
  accepted: number;
  applied: number | null;
}

export type SampleReading = Omit<TimelineSample, 't' | 'at' | 'phase'>;

/** Calls `read` once a second (the next one at once when one took longer) until stopped. */
export class TimelineRecorder {
  readonly samples: TimelineSample[] = [];
  readonly errors: string[] = [];
  phase = 'setup';
  readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly read: () => Promise<SampleReading>,
    private readonly intervalMs = 1_000,
  ) {}

  start(): void {
    const tick = (due: number) => {
      this.running = this.sample().finally(() => {
        if (this.stopped) return;
        const next = due + this.intervalMs;
        this.timer = setTimeout(() => tick(next), Math.max(0, next - Date.now()));
      });
    };
    tick(Date.now());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Seconds since the recorder started, to one decimal. */
  seconds(at: number): number {
    return Math.round((at - this.startedAt) / 100) / 10;
  }

  private async sample(): Promise<void> {
    const at = Date.now();
    try {
      const reading = await this.read();
      this.samples.push({
        t: this.seconds(at),
        at: new Date(at).toISOString(),
        phase: this.phase,
        ...reading,
      });
    } catch (error) {
      this.errors.push(`${this.seconds(at)}s: ${error instanceof Error ? error.message : error}`);
    }
  }
}

const CSV_COLUMNS: Array<keyof TimelineSample> = [
  't',
  'phase',
  'backlog',
  'lag',
  'pending',
  'lagSource',
  'desired',
  'statusBacklog',
  'deploymentReplicas',
  'readyReplicas',
  'running',
  'terminating',
  'accepted',
  'applied',
  'lastScaleReason',
  'scalingReason',
];

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function timelineCsv(samples: readonly TimelineSample[]): string {
  const rows = samples.map((sample) => CSV_COLUMNS.map((key) => csvCell(sample[key])).join(','));
  return `${[CSV_COLUMNS.join(','), ...rows].join('\n')}\n`;
}

/**
 * Writes `<name>.json` (the samples and `extra`), `<name>.csv` (the samples)
 * and `<name>.svg` (backlog and running workers) into ARTIFACT_DIR; returns
 * the paths.
 */
export function writeTimeline(
  name: string,
  samples: readonly TimelineSample[],
  extra: Record<string, unknown>,
  title: string,
): { json: string; csv: string; svg: string } {
  fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
  const files = {
    json: path.join(ARTIFACT_DIR, `${name}.json`),
    csv: path.join(ARTIFACT_DIR, `${name}.csv`),
    svg: path.join(ARTIFACT_DIR, `${name}.svg`),
  };
  fs.writeFileSync(files.json, `${JSON.stringify({ ...extra, samples }, null, 2)}\n`);
  fs.writeFileSync(files.csv, timelineCsv(samples));
  const chart = samples.map((sample) => ({
    at: Date.parse(sample.at),
    backlog: sample.backlog ?? undefined,
    lagSource: (sample.lagSource ?? 'unknown') as 'xinfo' | 'estimated' | 'unknown',
    desired: sample.desired ?? 0,
    replicas: sample.running,
    reason: sample.lastScaleReason ?? '',
    message: '',
  }));
  fs.writeFileSync(files.svg, scalingChartSvg(chart, title));
  return files;
}
