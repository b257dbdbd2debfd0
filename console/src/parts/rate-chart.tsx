export interface RatePoint {
  /** Start of the bucket, ms since the epoch. */
  at: number;
  perSecond: number;
}

const W = 600;
const H = 160;
const PAD = { left: 44, right: 8, top: 10, bottom: 22 };

/** Events applied per second over time, as a plain SVG line with its peak and time span marked. */
export function RateChart({ points }: { points: RatePoint[] }) {
  if (points.length === 0) return <p class="muted">No events applied in this window.</p>;
  const peak = Math.max(1, ...points.map((point) => point.perSecond));
  const first = points[0]!.at;
  const span = Math.max(1, points.at(-1)!.at - first);
  const x = (at: number) => PAD.left + ((at - first) / span) * (W - PAD.left - PAD.right);
  const y = (rate: number) => PAD.top + (1 - rate / peak) * (H - PAD.top - PAD.bottom);
  const line = points.map((point) => `${x(point.at).toFixed(1)},${y(point.perSecond).toFixed(1)}`);
  const minutes = Math.round(span / 60_000);
  const latest = points.at(-1)!.perSecond;
  return (
    <svg
      class="chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`Events applied per second over the last ${minutes} minutes: latest ${latest.toFixed(1)}, peak ${peak.toFixed(1)}`}
    >
      <line x1={PAD.left} y1={y(0)} x2={W - PAD.right} y2={y(0)} class="c-axis" />
      <line x1={PAD.left} y1={y(peak)} x2={W - PAD.right} y2={y(peak)} class="c-grid" />
      <text x={PAD.left - 4} y={y(peak) + 4} text-anchor="end" class="c-text">
        {peak.toFixed(1)}
      </text>
      <text x={PAD.left - 4} y={y(0) + 4} text-anchor="end" class="c-text">
        0
      </text>
      <text x={PAD.left} y={H - 4} class="c-text">
        −{minutes} min
      </text>
      <text x={W - PAD.right} y={H - 4} text-anchor="end" class="c-text">
        now
      </text>
      <polyline points={line.join(' ')} class="c-line" />
    </svg>
  );
}
