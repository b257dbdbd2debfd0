import type { Transition } from '../types';

export interface PlacedState {
  name: string;
  layer: number;
  row: number;
  /** Events that leave the execution in this state. */
  stays: string[];
}

export interface Edge {
  from: string;
  to: string;
  events: string[];
}

export interface Layout {
  states: PlacedState[];
  edges: Edge[];
  layers: number;
  rows: number;
}

/**
 * A simple layered layout: each state's layer is its distance in transitions
 * from the initial state; unreachable states take a layer of their own at the end.
 */
export function layoutStates(
  states: string[],
  transitions: Transition[],
  initial = states[0],
): Layout {
  const edges = new Map<string, Edge>();
  const stays = new Map<string, string[]>(states.map((state) => [state, []]));
  for (const transition of transitions) {
    const { from, to, event } = transition;
    if (to === from) {
      const list = stays.get(from);
      if (list && !list.includes(event)) list.push(event);
      continue;
    }
    const key = `${from}\u0000${to}`;
    const edge = edges.get(key) ?? { from, to, events: [] };
    if (!edge.events.includes(event)) edge.events.push(event);
    edges.set(key, edge);
  }
  const layerOf = new Map<string, number>();
  if (initial !== undefined) layerOf.set(initial, 0);
  const queue = initial === undefined ? [] : [initial];
  while (queue.length > 0) {
    const state = queue.shift()!;
    for (const edge of edges.values()) {
      if (edge.from === state && !layerOf.has(edge.to)) {
        layerOf.set(edge.to, layerOf.get(state)! + 1);
        queue.push(edge.to);
      }
    }
  }
  const reached = Math.max(-1, ...layerOf.values());
  for (const state of states) if (!layerOf.has(state)) layerOf.set(state, reached + 1);
  const rowsUsed = new Map<number, number>();
  const placed = states.map((name) => {
    const layer = layerOf.get(name)!;
    const row = rowsUsed.get(layer) ?? 0;
    rowsUsed.set(layer, row + 1);
    return { name, layer, row, stays: stays.get(name) ?? [] };
  });
  return {
    states: placed,
    edges: [...edges.values()],
    layers: Math.max(0, ...placed.map((state) => state.layer + 1)),
    rows: Math.max(0, ...rowsUsed.values()),
  };
}
