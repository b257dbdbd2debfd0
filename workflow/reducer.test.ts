import { describe, expect, it } from 'vitest';
import { ticketLifecycle } from './bundled/ticket-lifecycle.js';
import { defineBareEvent, defineWorkflow, type WorkflowDefinition } from './definition.js';
import { applyEvent, fold, initialState } from './reducer.js';

const ticket = ticketLifecycle as unknown as WorkflowDefinition;
const start = initialState(ticket, { requester: 'r@x' });
const PAYLOADS: Record<string, unknown> = { assign: { assignee: 'a' }, comment: { text: 'x' } };

describe('the ticket-lifecycle reducer', () => {
  it.each([
    ['new', 'assign', { assignee: 'a' }, 'in_progress'],
    ['in_progress', 'assign', { assignee: 'b' }, 'in_progress'],
    ['in_progress', 'resolve', {}, 'resolved'],
    ['resolved', 'reopen', {}, 'in_progress'],
    ['resolved', 'close', {}, 'closed'],
    ['resolved', 'comment', { text: 't' }, 'resolved'],
  ])('%s --%s--> %s', (from, event, payload, to) => {
    const step = applyEvent(ticket, { ...start, state: from }, { name: event, payload });
    expect(step).toMatchObject({ kind: 'applied', fromState: from, toState: to });
  });

  it.each([
    ['new', 'resolve'],
    ['new', 'close'],
    ['resolved', 'assign'],
    ['closed', 'comment'],
    ['closed', 'reopen'],
    ['in_progress', 'reopen'],
  ])('in state %s rejects %s with a reason', (state, event) => {
    const step = applyEvent(
      ticket,
      { ...start, state },
      { name: event, payload: PAYLOADS[event] ?? {} },
    );
    expect(step).toEqual({
      kind: 'rejected',
      fromState: state,
      reason: `event ${event} is not allowed in state ${state}`,
    });
  });

  it('counts comments, triggers notifyRequester on resolve, and never mutates the old data', () => {
    const before = structuredClone(start);
    const end = fold(ticket, start, [
      { name: 'comment', payload: { text: '1' } },
      { name: 'assign', payload: { assignee: 'bo' } },
      { name: 'comment', payload: { text: '2' } },
    ]);
    expect(end).toEqual({
      state: 'in_progress',
      data: { ...(start.data as object), assignee: 'bo', commentCount: 2 },
    });
    expect(start).toEqual(before);
    const resolve = applyEvent(ticket, end, { name: 'resolve', payload: {} });
    expect(resolve).toMatchObject({ kind: 'applied', actions: ['notifyRequester'] });
  });

  it('rejects unknown events and payloads that do not match the schema', () => {
    expect(applyEvent(ticket, start, { name: 'teleport', payload: {} })).toMatchObject({
      reason: 'unknown event teleport',
    });
    expect(applyEvent(ticket, start, { name: 'assign', payload: { assignee: 7 } })).toMatchObject({
      kind: 'rejected',
    });
  });

  it.each(['toString', 'constructor', '__proto__', 'valueOf'])(
    'rejects %s, a name every object inherits, as an unknown event',
    (name) => {
      expect(applyEvent(ticket, start, { name, payload: {} })).toEqual({
        kind: 'rejected',
        fromState: start.state,
        reason: `unknown event ${name}`,
      });
    },
  );
});

describe('defineWorkflow', () => {
  it('refuses definitions that name states or actions they do not declare', () => {
    expect(() =>
      defineWorkflow<'a' | 'b', null>({
        name: 'broken',
        version: 1,
        states: ['a'] as unknown as readonly ('a' | 'b')[],
        initialState: 'a',
        finalStates: [],
        initialData: () => null,
        events: {
          go: defineBareEvent<'a' | 'b', null>([{ from: ['a'], to: 'b', actions: ['missing'] }]),
        },
        actions: {},
      }),
    ).toThrow(
      'workflow broken@1 is invalid: go: to b is not a state; go: action missing is not declared',
    );
  });

  it('uses a guard’s reason when it refuses', () => {
    const guarded = defineWorkflow<'a', { n: number }>({
      name: 'guarded',
      version: 1,
      states: ['a'],
      initialState: 'a',
      finalStates: [],
      initialData: () => ({ n: 0 }),
      events: {
        inc: defineBareEvent<'a', { n: number }>([
          {
            from: ['a'],
            guard: ({ data }) => (data.n < 1 ? true : 'limit reached'),
            update: (d) => ({ n: d.n + 1 }),
          },
        ]),
      },
      actions: {},
    }) as unknown as WorkflowDefinition;
    const once = fold(guarded, initialState(guarded, {}), [{ name: 'inc', payload: {} }]);
    expect(once.data).toEqual({ n: 1 });
    expect(applyEvent(guarded, once, { name: 'inc', payload: {} })).toMatchObject({
      kind: 'rejected',
      reason: 'limit reached',
    });
  });
});
