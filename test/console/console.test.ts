import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../api/app.js';
import { waitFor } from '../../local/process.js';
import { buildConsole } from '../../scripts/build-console.mjs';
import { bundledWorkflows } from '../../workflow/bundled/index.js';
import { WorkflowRegistry } from '../../workflow/registry.js';
import { launchBrowser, screenshot } from '../support/browser.js';
import {
  silentLogger,
  startTestRuntime,
  type TestRuntime,
  waitUntilSettled,
} from '../support/runtime.js';
import { flakyPlan, testWorkflow } from '../support/workflows.js';

/** An expression evaluated in the page (these files compile without the DOM's types). */
const inPage = (page: Page, expression: string) => page.evaluate<unknown>(expression);

const ACME = 'acme-console-token-0001';
const OTHER = 'other-console-token-0002';

/**
 * The console in Chromium against a real API, PostgreSQL, Redis and a worker
 * (the runtime's consumer): what a person does with it, start to end.
 */
describe('the web console in a browser', () => {
  let rt: TestRuntime;
  let app: Awaited<ReturnType<typeof buildApiApp>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let dir: string;
  let deadEventId: string;
  const problems: string[] = [];

  beforeAll(async () => {
    const workflows = [...bundledWorkflows, testWorkflow];
    rt = await startTestRuntime({
      workflows,
      settings: { maxDeliveries: 2, retryBaseMs: 10, retryMaxMs: 50 },
    });
    await rt.startConsumer();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowpool-console-'));
    await buildConsole(dir);
    app = await buildApiApp({
      runtime: { ...rt, registry: new WorkflowRegistry(workflows) },
      tokens: new Map([
        [ACME, 'acme'],
        [OTHER, 'other'],
      ]),
      logger: silentLogger,
      consoleDir: dir,
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });

    const start = (tenant: string, executionId: string, workflow = 'ticket-lifecycle') =>
      rt.service.startExecution({ tenant, workflow, executionId, input: { title: executionId } });
    const send = (executionId: string, event: string, payload?: unknown) =>
      rt.service.enqueueEvent({ tenant: 'acme', executionId, event, payload });
    for (const id of ['T-100', 'T-101', 'T-102']) await start('acme', id);
    await send('T-101', 'assign', { assignee: 'ana' });
    await send('T-101', 'comment', { text: 'looking into it' });
    await send('T-101', 'resolve');
    await send('T-101', 'assign', { assignee: 'bo' }); // rejected: resolved tickets are not assigned
    await start('other', 'O-1');
    for (let i = 0; i < 30; i += 1) await start('acme', `P-${String(i).padStart(2, '0')}`);
    // An action that fails for good: its event ends among the dead letters.
    flakyPlan.failuresBeforeSuccess = 1_000;
    await start('acme', 'F-1', 'test-flow');
    deadEventId = (await send('F-1', 'notify')).eventId;
    await waitFor('the failing action to be dead-lettered', async () =>
      (await rt.deadLetters.list('acme', 10)).some((event) => event.eventId === deadEventId),
    );
    // Workflow code that throws: the event dies and holds its execution (blocked).
    await start('acme', 'B-1', 'test-flow');
    await send('B-1', 'explode');
    await waitFor('B-1 to be blocked', async () => {
      return (await rt.service.getExecution('acme', 'B-1'))?.status === 'blocked';
    });
    // The pages read each list once: every seeded event must be decided before they do.
    await waitUntilSettled(rt);

    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    // Uncaught errors and CSP refusals; expected answers such as a 401 or 404 are not counted.
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        problems.push(message.text());
    });
  });
  afterAll(async () => {
    flakyPlan.failuresBeforeSuccess = 0;
    await browser?.close();
    await app?.close();
    await rt?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('signs in with the tenant token, refusing a wrong one', async () => {
    await page.goto(`${base}/console/`);
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That token was refused.').waitFor();
    await screenshot(page, 'sign-in');
    await page.getByLabel('API token').fill(ACME);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Executions' }).waitFor();
    // Kept for this tab only.
    expect(await inPage(page, "sessionStorage.getItem('flowpool.token')")).toBe(ACME);
    expect(await inPage(page, 'localStorage.length')).toBe(0);
  });

  it('signs in from the address flowpool dev prints, and takes the token off it', async () => {
    const tab = await context.newPage();
    await tab.goto(`${base}/console/#token=${ACME}`);
    await tab.getByRole('heading', { level: 1, name: 'Executions' }).waitFor();
    expect(tab.url()).toBe(`${base}/console/`);
    expect(await inPage(tab, "sessionStorage.getItem('flowpool.token')")).toBe(ACME);
    await tab.close();
  });

  it('finds an execution and reads its history', async () => {
    // Counts by state, then a search by id prefix.
    const counts = page.locator('section.counts');
    await counts.getByRole('cell', { name: 'resolved' }).waitFor();
    await page.getByLabel('Execution id starts with').fill('T-10');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const rows = page.locator('table.list tbody tr');
    await waitFor('the three T-10… executions', async () => (await rows.count()) === 3);
    await screenshot(page, 'executions');
    // A select narrows the same list: T-101 alone is resolved.
    await page.getByLabel('State').selectOption('resolved');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitFor('the one resolved T-10… execution', async () => (await rows.count()) === 1);
    await page.getByRole('link', { name: 'T-101' }).click();
    await page.getByRole('heading', { level: 1, name: 'T-101' }).waitFor();
    const history = page.locator('ol.timeline > li');
    await waitFor('four events in the history', async () => (await history.count()) === 4);
    const first = page.locator('li[data-seq="1"]');
    expect(await first.textContent()).toContain('assign');
    expect(await first.textContent()).toContain('new → in_progress');
    expect(await page.locator('li[data-seq="3"]').textContent()).toContain(
      'in_progress → resolved',
    );
    expect(await page.locator('li[data-seq="4"] .badge').textContent()).toBe('rejected');
    await page.locator('li[data-seq="1"] summary', { hasText: 'Payload' }).click();
    expect(await page.locator('li[data-seq="1"] .json').textContent()).toContain('"ana"');
    expect(await page.getByTestId('state').textContent()).toBe('resolved');
    await screenshot(page, 'execution');
  });

  it('pages through a long list with the cursor, forward and back', async () => {
    await page
      .getByRole('navigation', { name: 'Console pages' })
      .getByRole('link', { name: 'Executions' })
      .click();
    await page.getByLabel('Execution id starts with').fill('P-');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const ids = page.locator('table.list tbody tr td:first-child a');
    const shown = async () => (await ids.allTextContents()).join(' ');
    await waitFor('the first page', async () => (await ids.count()) === 25);
    const first = await shown();
    await page.getByRole('button', { name: 'Next page' }).click();
    await waitFor('the second page', async () => (await ids.count()) === 5);
    const second = (await shown()).split(' ');
    // Every execution exactly once across the two pages.
    expect(new Set([...first.split(' '), ...second]).size).toBe(30);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await waitFor('the first page again', async () => (await shown()) === first);
    await page.goto(`${base}/console/executions/T-101`);
    await page.locator('li[data-seq="4"]').waitFor();
  });

  it('sends an event through the payload form and sees it applied', async () => {
    await page.getByLabel('Event', { exact: true }).selectOption('comment');
    await page.getByLabel('text (required)').fill('sent from the console');
    await page.getByRole('button', { name: 'Send event' }).click();
    await page.getByText('Event comment accepted as #5.').waitFor();
    const sent = page.locator('li[data-seq="5"]');
    await sent.waitFor();
    await waitFor(
      'event #5 applied',
      async () => (await sent.locator('.badge').textContent()) === 'applied',
    );
    expect(await sent.textContent()).toContain('resolved → resolved');
    const stored = await rt.service.getExecution('acme', 'T-101');
    expect(stored?.data).toMatchObject({ commentCount: 2 });
  });

  it('shows a dead letter with its error code and retries it', async () => {
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dead letters' }).waitFor();
    const row = page.locator('tr', { hasText: 'F-1' });
    await row.waitFor();
    expect(await row.textContent()).toContain('notify');
    await row.getByRole('button', { name: /^Inspect/ }).click();
    await page.locator('tr.inspect', { hasText: deadEventId }).waitFor();
    await screenshot(page, 'dead-letters');
    flakyPlan.failuresBeforeSuccess = 0;
    await page.getByLabel('Select notify #1 of F-1').check();
    await page.getByRole('button', { name: 'Retry selected (1)' }).click();
    await page.getByText('1 event put back to pending.').waitFor();
    await waitFor('the retried event to be applied', async () => {
      const event = await rt.store.getEvent('acme', deadEventId);
      return event?.status === 'applied';
    });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await waitFor('F-1 to leave the dead letters', async () => (await row.count()) === 0);
    // B-1's event still dies (its workflow code throws), so it stays.
    expect(await page.locator('tr', { hasText: 'B-1' }).count()).toBe(1);
  });

  it('links a blocked execution to the dead letters', async () => {
    await page.goto(`${base}/console/executions/B-1`);
    await page.getByRole('heading', { level: 1, name: 'B-1' }).waitFor();
    await page.getByRole('link', { name: /a dead event holds it/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Dead letters' }).waitFor();
  });

  it("says another tenant's execution is not found", async () => {
    await page.goto(`${base}/console/executions/O-1`);
    await page.getByText('Execution O-1 was not found.').waitFor();
    expect(await page.locator('dl.facts').count()).toBe(0);
  });

  it('shows stream health and each workflow as a diagram', async () => {
    await page.getByRole('link', { name: 'Stream health' }).click();
    await page.getByRole('heading', { level: 1, name: 'Stream health' }).waitFor();
    const chart = page.getByRole('img', { name: /Events applied per second/ });
    await chart.waitFor();
    expect(await page.locator('.cards').textContent()).toContain('Consumers');
    await screenshot(page, 'stream');
    await page.getByRole('link', { name: 'Workflows' }).click();
    const diagram = page.getByRole('img', { name: /^States of ticket-lifecycle/ });
    await diagram.waitFor();
    for (const state of ['new', 'in_progress', 'resolved', 'closed']) {
      expect(await diagram.locator('text.d-name', { hasText: state }).count()).toBe(1);
    }
    expect(await diagram.locator('text.d-label').allTextContents()).toContain('close');
    await screenshot(page, 'workflows');
  });

  it('moves through the pages by keyboard alone', async () => {
    await page.goto(`${base}/console/`);
    await page.getByRole('heading', { level: 1, name: 'Executions' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await inPage(page, 'document.activeElement?.textContent')).toBe('Skip to content');
    const names: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      await page.keyboard.press('Tab');
      names.push(String(await inPage(page, 'document.activeElement?.textContent')));
    }
    expect(names).toEqual(['Executions', 'Dead letters', 'Stream health', 'Workflows']);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Workflows' }).waitFor();
    // Focus follows the page: it lands on the new page's heading.
    expect(await inPage(page, 'document.activeElement?.tagName')).toBe('H1');
  });

  it('fits a 390-pixel-wide screen', async () => {
    // The same tab: the token lives in its sessionStorage.
    const narrow = page;
    await narrow.setViewportSize({ width: 390, height: 844 });
    await narrow.goto(`${base}/console/executions/T-101`);
    await narrow.getByRole('heading', { level: 1, name: 'T-101' }).waitFor();
    await narrow.locator('li[data-seq="5"]').waitFor();
    const width = await inPage(narrow, 'document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(390);
    await screenshot(narrow, 'execution-390');
    await narrow.goto(`${base}/console/`);
    await narrow.locator('table.list tbody tr').first().waitFor();
    await screenshot(narrow, 'executions-390');
    // Nothing sticks out sideways: the list is a stack of cards, the filters two columns.
    const wide = await inPage(
      narrow,
      `[...document.querySelectorAll('main *')].filter((e) => !e.closest('table.list thead') && e.getBoundingClientRect().right > 390).map((e) => e.tagName + ':' + e.textContent)`,
    );
    expect(wide).toEqual([]);
  });

  it('ran without a script error or a Content-Security-Policy refusal', () => {
    expect(problems).toEqual([]);
  });
});
