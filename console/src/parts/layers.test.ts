import { describe, expect, it } from 'vitest';
import { layoutStates } from './layers';

describe('layoutStates', () => {
  it('puts each state one layer after the first state that reaches it', () => {
    const layout = layoutStates(
      ['new', 'open', 'resolved', 'closed'],
      [
        { event: 'assign', from: 'new', to: 'open' },
        { event: 'resolve', from: 'open', to: 'resolved' },
        { event: 'reopen', from: 'resolved', to: 'open' },
        { event: 'close', from: 'new', to: 'closed' },
        { event: 'comment', from: 'open', to: 'open' },
      ],
      'new',
    );
    const layer = Object.fromEntries(layout.states.map((s) => [s.name, s.layer]));
    expect(layer).toEqual({ new: 0, open: 1, closed: 1, resolved: 2 });
    expect(layout.states.find((s) => s.name === 'open')?.stays).toEqual(['comment']);
    expect(layout.edges.map((e) => `${e.from}>${e.to}`)).not.toContain('open>open');
    expect(layout.layers).toBe(3);
    expect(layout.rows).toBe(2);
  });

  it('merges events between the same two states and places unreachable states last', () => {
    const layout = layoutStates(
      ['a', 'b', 'orphan'],
      [
        { event: 'x', from: 'a', to: 'b' },
        { event: 'y', from: 'a', to: 'b' },
      ],
      'a',
    );
    expect(layout.edges).toEqual([{ from: 'a', to: 'b', events: ['x', 'y'] }]);
    expect(layout.states.find((s) => s.name === 'orphan')?.layer).toBe(2);
  });
});
