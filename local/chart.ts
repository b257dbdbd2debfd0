import type { ScalingSample } from './local-autoscaler.js';

const WIDTH = 900;
const HEIGHT = 360;
const PAD = { left: 60, right: 60, top: 30, bottom: 40 };

function polyline(points: Array<[number, number]>, color: string, step = false): string {
  const coords: string[] = [];
  points.forEach(([x, y], i) => {
    const previous = points[i - 1];
    if (step && previous) coords.push(`${x.toFixed(1)},${previous[1].toFixed(1)}`);
    coords.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  });
  return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${coords.join(' ')}"/>`;
}

/** An SVG of backlog (left axis) and replicas (right axis) over time. */
export function scalingChartSvg(samples: readonly ScalingSample[], title: string): string {
  const t0 = samples[0]?.at ?? 0;
  const seconds = Math.max(1, ((samples.at(-1)?.at ?? t0) - t0) / 1000);
  const maxBacklog = Math.max(1, ...samples.map((s) => s.backlog ?? 0));
  const maxReplicas = Math.max(1, ...samples.map((s) => Math.max(s.replicas, s.desired)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (at: number) => PAD.left + ((at - t0) / 1000 / seconds) * plotW;
  const yBacklog = (v: number) => PAD.top + plotH - (v / maxBacklog) * plotH;
  const yReplicas = (v: number) => PAD.top + plotH - (v / maxReplicas) * plotH;
  const backlog = samples
    .filter((s) => s.backlog !== undefined)
    .map((s) => [x(s.at), yBacklog(s.backlog!)] as [number, number]);
  const replicas = samples.map((s) => [x(s.at), yReplicas(s.replicas)] as [number, number]);
  const text = (tx: number, ty: number, body: string, anchor = 'middle', color = '#333') =>
    `<text x="${tx}" y="${ty}" font-family="sans-serif" font-size="12" fill="${color}" text-anchor="${anchor}">${body}</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text(WIDTH / 2, 18, title),
    `<rect x="${PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#ccc"/>`,
    polyline(backlog, '#d9534f'),
    polyline(replicas, '#0275d8', true),
    text(PAD.left - 8, PAD.top + 4, String(maxBacklog), 'end', '#d9534f'),
    text(PAD.left - 8, PAD.top + plotH, '0', 'end', '#d9534f'),
    text(WIDTH - PAD.right + 8, PAD.top + 4, String(maxReplicas), 'start', '#0275d8'),
    text(WIDTH - PAD.right + 8, PAD.top + plotH, '0', 'start', '#0275d8'),
    text(PAD.left + plotW / 2, HEIGHT - 10, `time (s), 0 to ${Math.round(seconds)}`),
    text(PAD.left, HEIGHT - 10, 'backlog', 'start', '#d9534f'),
    text(WIDTH - PAD.right, HEIGHT - 10, 'replicas', 'end', '#0275d8'),
    '</svg>',
  ].join('\n');
}
