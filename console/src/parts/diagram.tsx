import type { WorkflowDefinition } from '../types';
import { layoutStates } from './layers';

const MIN_NODE_W = 140;
const NODE_H = 46;
/** How far below the boxes an arrow that goes back (or sideways) bows. */
const BOW = 34;
const GAP_X = 90;
const GAP_Y = 40;
const PAD = 16;

/** A workflow's states (boxes, initial one thick, final ones double) and transitions (arrows). */
export function StateDiagram({ workflow }: { workflow: WorkflowDefinition }) {
  const layout = layoutStates(workflow.states, workflow.transitions, workflow.initialState);
  const finals = new Set(workflow.finalStates ?? []);
  // Wide enough for the longest name or list of events that stay: rough glyph widths.
  const NODE_W = Math.max(
    MIN_NODE_W,
    ...layout.states.map(
      (state) => Math.max(state.name.length * 9, (state.stays.join(', ').length + 2) * 6.5) + 20,
    ),
  );
  const at = new Map(
    layout.states.map((state) => [
      state.name,
      { x: PAD + state.layer * (NODE_W + GAP_X), y: PAD + state.row * (NODE_H + GAP_Y) },
    ]),
  );
  const width = PAD * 2 + layout.layers * NODE_W + Math.max(0, layout.layers - 1) * GAP_X;
  const layerOf = new Map(layout.states.map((state) => [state.name, state.layer]));
  const bows = layout.edges.some((edge) => layerOf.get(edge.to)! <= layerOf.get(edge.from)!);
  const height =
    PAD * 2 + layout.rows * NODE_H + Math.max(0, layout.rows - 1) * GAP_Y + (bows ? BOW + 16 : 0);
  const id = `arrow-${workflow.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <svg
      class="diagram"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      role="img"
      aria-label={`States of ${workflow.name}: ${workflow.states.join(', ')}`}
    >
      <defs>
        <marker
          id={id}
          viewBox="0 0 10 10"
          refX="10"
          refY="5"
          markerWidth="7"
          markerHeight="7"
          orient="auto"
        >
          <path d="M0,0 L10,5 L0,10 z" class="d-arrowhead" />
        </marker>
      </defs>
      {layout.edges.map((edge) => {
        const a = at.get(edge.from);
        const b = at.get(edge.to);
        if (!a || !b) return null;
        const forward = b.x > a.x;
        const x1 = forward ? a.x + NODE_W : a.x + NODE_W / 2;
        const y1 = forward ? a.y + NODE_H / 2 : a.y + NODE_H;
        const x2 = forward ? b.x : b.x + NODE_W / 2;
        const y2 = forward ? b.y + NODE_H / 2 : b.y + NODE_H;
        // Backward and same-layer edges bow below the boxes so they do not cross them;
        // a quadratic curve peaks halfway to its control point.
        const mx = (x1 + x2) / 2;
        const peak = Math.max(y1, y2) + (forward ? 0 : BOW);
        const control = forward ? (y1 + y2) / 2 : 2 * peak - (y1 + y2) / 2;
        return (
          <g key={`${edge.from}-${edge.to}`}>
            <path
              d={`M${x1},${y1} Q${mx},${control} ${x2},${y2}`}
              class="d-edge"
              marker-end={`url(#${id})`}
            />
            <text x={mx} y={forward ? peak - 6 : peak + 12} class="d-label" text-anchor="middle">
              {edge.events.join(', ')}
            </text>
          </g>
        );
      })}
      {layout.states.map((state) => {
        const { x, y } = at.get(state.name)!;
        const initial = state.name === workflow.initialState;
        return (
          <g key={state.name}>
            <rect
              x={x}
              y={y}
              width={NODE_W}
              height={NODE_H}
              rx={8}
              class={`d-node${initial ? ' d-initial' : ''}`}
            />
            {finals.has(state.name) && (
              <rect
                x={x + 3}
                y={y + 3}
                width={NODE_W - 6}
                height={NODE_H - 6}
                rx={6}
                class="d-final"
              />
            )}
            <text
              x={x + NODE_W / 2}
              y={y + (state.stays.length ? 20 : 28)}
              class="d-name"
              text-anchor="middle"
            >
              {state.name}
            </text>
            {state.stays.length > 0 && (
              <text x={x + NODE_W / 2} y={y + 36} class="d-stays" text-anchor="middle">
                ↻ {state.stays.join(', ')}
              </text>
            )}
          </g>
        );
      })}
    </svg>
  );
}
