import { Type } from '@sinclair/typebox';
import { defineBareEvent, defineEvent, defineWorkflow } from '../definition.js';

export type TicketState = 'new' | 'in_progress' | 'resolved' | 'closed';

export interface TicketData {
  title: string | null;
  requester: string | null;
  assignee: string | null;
  commentCount: number;
  resolvedCount: number;
}

const TicketInput = Type.Object(
  {
    title: Type.Optional(Type.String({ maxLength: 500 })),
    requester: Type.Optional(Type.String({ maxLength: 320 })),
  },
  { additionalProperties: false },
);

const AssignPayload = Type.Object(
  { assignee: Type.String({ minLength: 1, maxLength: 320 }) },
  { additionalProperties: false },
);
const CommentPayload = Type.Object(
  { text: Type.String({ maxLength: 10_000 }) },
  { additionalProperties: false },
);

/**
 * The bundled example: a support ticket. `comment` is allowed in every state
 * but closed; `resolve` notifies the requester once the transition commits.
 */
export const ticketLifecycle = defineWorkflow<TicketState, TicketData>({
  name: 'ticket-lifecycle',
  version: 1,
  states: ['new', 'in_progress', 'resolved', 'closed'],
  initialState: 'new',
  finalStates: ['closed'],
  input: TicketInput,
  initialData: (input) => {
    const given = (input ?? {}) as { title?: string; requester?: string };
    return {
      title: given.title ?? null,
      requester: given.requester ?? null,
      assignee: null,
      commentCount: 0,
      resolvedCount: 0,
    };
  },
  events: {
    assign: defineEvent<TicketState, TicketData, typeof AssignPayload>(AssignPayload, [
      {
        from: ['new', 'in_progress'],
        to: 'in_progress',
        update: (data, p) => ({ ...data, assignee: p.assignee }),
      },
    ]),
    comment: defineEvent<TicketState, TicketData, typeof CommentPayload>(CommentPayload, [
      { from: '*', update: (data) => ({ ...data, commentCount: data.commentCount + 1 }) },
    ]),
    resolve: defineBareEvent<TicketState, TicketData>([
      {
        from: ['in_progress'],
        to: 'resolved',
        update: (data) => ({ ...data, resolvedCount: data.resolvedCount + 1 }),
        actions: ['notifyRequester'],
      },
    ]),
    reopen: defineBareEvent<TicketState, TicketData>([{ from: ['resolved'], to: 'in_progress' }]),
    close: defineBareEvent<TicketState, TicketData>([{ from: ['resolved'], to: 'closed' }]),
  },
  actions: {
    notifyRequester: {
      // A real deployment sends mail here; the example records who would be told.
      run: async ({ data, idempotencyKey }) => ({ notified: data.requester, idempotencyKey }),
    },
  },
});
