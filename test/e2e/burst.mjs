#!/usr/bin/env node
/**
 * The end-to-end load: a burst of events through the flowpool HTTP API, and
 * the check that every one was applied exactly once. Plain Node (20+), no
 * dependencies, so it runs from a ConfigMap in a Job on the flowpool image
 * (test/e2e/kind.sh) as well as against a local api (test/e2e/burst.test.ts).
 *
 *   node burst.mjs send    start BURST_EXECUTIONS BURST_WORKFLOW executions and send
 *                          BURST_EVENTS `comment` events to each
 *   node burst.mjs check   wait until every execution has applied each of its events
 *                          once: commentCount = BURST_EVENTS, every event applied, no
 *                          seq twice, no dead letters
 *
 * Environment: FLOWPOOL_API_URL (e.g. http://flowpool-api), FLOWPOOL_API_TOKEN,
 * BURST_WORKFLOW (default ticket-lifecycle, the bundled example; any workflow whose
 * `comment` event adds one to data.commentCount will do), BURST_RUN (execution id
 * prefix, default e2e), BURST_EXECUTIONS (40),
 * BURST_EVENTS (25), BURST_CONCURRENCY (16), BURST_TIMEOUT_SECONDS (600).
 *
 * Both commands are safe to run again (a Job may retry): executions that
 * exist are kept (409) and every event carries an idempotency key.
 * Prints one JSON line; exits 0 on success, 1 on failure, 2 on bad usage.
 */

function setting(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') usage(`${name} is required`);
  return value;
}

function count(name, fallback) {
  const value = Number(setting(name, String(fallback)));
  if (!Number.isInteger(value) || value < 1) usage(`${name} must be a whole number >= 1`);
  return value;
}

function usage(message) {
  console.error(`burst: ${message}\nusage: node burst.mjs send|check (see the file's header)`);
  process.exit(2);
}

const command = process.argv[2];
if (command !== 'send' && command !== 'check') usage(`unknown command '${command ?? ''}'`);

const config = {
  api: setting('FLOWPOOL_API_URL').replace(/\/$/, ''),
  token: setting('FLOWPOOL_API_TOKEN'),
  workflow: setting('BURST_WORKFLOW', 'ticket-lifecycle'),
  run: setting('BURST_RUN', 'e2e'),
  executions: count('BURST_EXECUTIONS', 40),
  events: count('BURST_EVENTS', 25),
  concurrency: count('BURST_CONCURRENCY', 16),
  timeoutMs: count('BURST_TIMEOUT_SECONDS', 600) * 1000,
};

const executionId = (i) => `${config.run}-${String(i).padStart(4, '0')}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One API call; retries refused connections and 503 (the api or its servers starting). */
async function call(method, path, body, { expect = [200], attempts = 30 } = {}) {
  for (let attempt = 1; ; attempt++) {
    let answer;
    try {
      answer = await fetch(`${config.api}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${config.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      if (attempt >= attempts) throw new Error(`${method} ${path}: ${error.message}`);
      await sleep(1_000);
      continue;
    }
    const text = await answer.text();
    if (expect.includes(answer.status)) {
      return { status: answer.status, body: text ? JSON.parse(text) : undefined };
    }
    if (answer.status === 503 && attempt < attempts) {
      await sleep(1_000);
      continue;
    }
    throw new Error(`${method} ${path}: HTTP ${answer.status} ${text.slice(0, 500)}`);
  }
}

/** Runs `work` on every item, at most `limit` at a time. */
async function inParallel(items, limit, work) {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await work(item);
    }
  });
  await Promise.all(runners);
}

async function send() {
  const started = Date.now();
  const ids = Array.from({ length: config.executions }, (_, i) => executionId(i));
  await inParallel(ids, config.concurrency, async (id) => {
    await call(
      'POST',
      '/v1/executions',
      { workflow: config.workflow, executionId: id, input: { title: `burst ${config.run}` } },
      { expect: [201, 409] },
    );
  });
  const events = [];
  // Round-robin over executions, so the stream carries many executions at once.
  for (let k = 0; k < config.events; k++) for (const id of ids) events.push({ id, k });
  let accepted = 0;
  await inParallel(events, config.concurrency, async ({ id, k }) => {
    await call(
      'POST',
      `/v1/executions/${encodeURIComponent(id)}/events`,
      { event: 'comment', payload: { text: `comment ${k}` }, idempotencyKey: `${id}-comment-${k}` },
      { expect: [202] },
    );
    accepted++;
  });
  return {
    command: 'send',
    run: config.run,
    executions: ids.length,
    events: accepted,
    seconds: (Date.now() - started) / 1000,
  };
}

/** Every event of one execution, following the history's pages. */
async function history(id) {
  const events = [];
  let afterSeq = 0;
  for (;;) {
    const page = await call(
      'GET',
      `/v1/executions/${encodeURIComponent(id)}/events?afterSeq=${afterSeq}&limit=100`,
    );
    events.push(...page.body.events);
    if (page.body.events.length < 100) return events;
    afterSeq = page.body.events.at(-1).seq;
  }
}

/** What is wrong with one execution now ([] once it is complete and correct). */
async function problemsOf(id) {
  const execution = (await call('GET', `/v1/executions/${encodeURIComponent(id)}`)).body;
  const comments = execution.data?.commentCount ?? 0;
  if (comments > config.events) {
    // Each comment adds one: more than were sent means one was applied twice.
    return { fatal: true, problems: [`${id}: commentCount ${comments} > ${config.events} sent`] };
  }
  if (comments < config.events) {
    return { fatal: false, problems: [`${id}: commentCount ${comments} of ${config.events}`] };
  }
  const events = await history(id);
  const problems = [];
  const seqs = new Set(events.map((event) => event.seq));
  if (events.length !== config.events) {
    problems.push(`${id}: ${events.length} events stored, ${config.events} sent`);
  }
  if (seqs.size !== events.length) problems.push(`${id}: a seq is used twice`);
  const notApplied = events.filter((event) => event.status !== 'applied');
  if (notApplied.length > 0) {
    problems.push(
      `${id}: ${notApplied.length} events not applied (${notApplied[0].seq}: ${notApplied[0].status})`,
    );
  }
  if (execution.appliedSeq !== Math.max(0, ...seqs)) {
    problems.push(`${id}: appliedSeq ${execution.appliedSeq}, last seq ${Math.max(0, ...seqs)}`);
  }
  return { fatal: problems.length > 0, problems };
}

async function check() {
  const started = Date.now();
  let pending = Array.from({ length: config.executions }, (_, i) => executionId(i));
  let problems = [];
  while (pending.length > 0) {
    const still = [];
    problems = [];
    await inParallel(pending, config.concurrency, async (id) => {
      const found = await problemsOf(id);
      if (found.fatal) throw new Error(found.problems.join('; '));
      if (found.problems.length > 0) {
        still.push(id);
        problems.push(...found.problems);
      }
    });
    pending = still;
    if (pending.length === 0) break;
    if (Date.now() - started > config.timeoutMs) {
      throw new Error(
        `${pending.length} executions incomplete after ${config.timeoutMs / 1000}s: ${problems.slice(0, 5).join('; ')}`,
      );
    }
    await sleep(2_000);
  }
  const dead = (await call('GET', '/v1/dead-letters?limit=1000')).body.deadLetters.filter((event) =>
    event.executionId.startsWith(`${config.run}-`),
  );
  if (dead.length > 0) {
    throw new Error(`${dead.length} dead letters, e.g. ${dead[0].eventId}: ${dead[0].error}`);
  }
  return {
    command: 'check',
    run: config.run,
    executions: config.executions,
    eventsApplied: config.executions * config.events,
    seconds: (Date.now() - started) / 1000,
  };
}

try {
  const result = command === 'send' ? await send() : await check();
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, command, run: config.run, error: error.message }));
  process.exit(1);
}
