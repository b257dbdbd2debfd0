// The end-to-end scenario's own workflow, shipped the way a user ships theirs
// (docs/your-workflows.md): a compiled ES module in an image built FROM the
// flowpool image, named by FLOWPOOL_WORKFLOWS. Inside the image 'flowpool'
// resolves to the image's own package (/app/package.json), so the module
// needs no node_modules of its own.
//
// Every `comment` adds one to commentCount: the exactly-once check
// (test/e2e/exactly-once.sql, burst.mjs check) counts on it. Every tenth
// comment ("comment 0", "comment 10", ...) has an action that takes 300 ms,
// as a call to another system would, so workers stopped while busy have
// something to drain.
import { defineEvent, defineWorkflow, Type } from 'flowpool';

const Input = Type.Object(
  { title: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);
const Comment = Type.Object(
  { text: Type.String({ maxLength: 1000 }) },
  { additionalProperties: false },
);

export const tally = defineWorkflow({
  name: 'e2e-tally',
  version: 1,
  states: ['open'],
  initialState: 'open',
  finalStates: [],
  input: Input,
  initialData: (input) => ({ title: input?.title ?? null, commentCount: 0, lastComment: null }),
  events: {
    comment: defineEvent(Comment, [
      {
        from: '*',
        update: (data, payload) => ({
          ...data,
          commentCount: data.commentCount + 1,
          lastComment: payload.text,
        }),
        actions: ['settle'],
      },
    ]),
  },
  actions: {
    settle: {
      run: ({ payload, signal }) =>
        new Promise((resolve, reject) => {
          if (!/0$/.test(payload.text)) return resolve({ waited: 0 });
          const timer = setTimeout(() => resolve({ waited: 300 }), 300);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(signal.reason);
          });
        }),
    },
  },
});
