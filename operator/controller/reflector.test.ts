import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../kube/client.js';
import type { KubeObject, ListWatch, WatchEvent } from '../kube/types.js';
import { Reflector } from './reflector.js';

function object(name: string, resourceVersion: string, extra: Record<string, unknown> = {}) {
  return { metadata: { namespace: 'ns', name, resourceVersion }, ...extra } as KubeObject;
}

type Step =
  | { kind: 'list'; items: KubeObject[]; resourceVersion: string }
  | { kind: 'list-fails' }
  | { kind: 'watch'; events: WatchEvent<KubeObject>[]; end: 'close' | 'gone' | 'error' | 'hang' };

/** A scripted API: each list and watch call takes the next step of its kind. */
class ScriptedSource implements ListWatch<KubeObject> {
  readonly description = 'scripted';
  readonly watchedFrom: string[] = [];
  lists = 0;

  constructor(private readonly steps: Step[]) {}

  private next<K extends Step['kind']>(kinds: K[]): Extract<Step, { kind: K }> | undefined {
    const index = this.steps.findIndex((step) => (kinds as string[]).includes(step.kind));
    if (index < 0) return undefined;
    return this.steps.splice(index, 1)[0] as Extract<Step, { kind: K }>;
  }

  async list() {
    this.lists++;
    const step = this.next(['list', 'list-fails']);
    if (step === undefined || step.kind === 'list-fails') throw new Error('list failed');
    return { items: step.items, resourceVersion: step.resourceVersion };
  }

  async watch(
    resourceVersion: string,
    onEvent: (event: WatchEvent<KubeObject>) => void,
    signal: AbortSignal,
  ) {
    this.watchedFrom.push(resourceVersion);
    const step = this.next(['watch']);
    const hang = () =>
      new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    if (step === undefined) return hang();
    for (const event of step.events) onEvent(event);
    if (step.end === 'gone') throw new KubeApiError(410, 'Expired', 'too old resource version');
    if (step.end === 'error') throw new KubeApiError(0, 'WatchFailed', 'connection reset');
    if (step.end === 'hang') return hang();
  }
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function recorder() {
  const seen: string[] = [];
  return {
    seen,
    handler: {
      onAdd: (o: KubeObject) => seen.push(`add ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
      onUpdate: (_p: KubeObject, o: KubeObject) =>
        seen.push(`update ${o.metadata?.name}@${o.metadata?.resourceVersion}`),
      onDelete: (o: KubeObject) => seen.push(`delete ${o.metadata?.name}`),
    },
  };
}

const logger = pino({ level: 'silent' });

describe('Reflector', () => {
  it('lists, then applies watch events from the list version on', async () => {
    const source = new ScriptedSource([
      { kind: 'list', items: [object('a', '1')], resourceVersion: '10' },
      {
        kind: 'watch',
        events: [
          { type: 'ADDED', object: object('b', '11') },
          { type: 'MODIFIED', object: object('a', '12') },
          { type: 'BOOKMARK', object: object('', '13') },
          { type: 'DELETED', object: object('b', '14') },
        ],
        end: 'hang',
      },
    ]);
    const { seen, handler } = recorder();
    const reflector = new Reflector(source, handler, logger);
    reflector.start();
    await reflector.waitForSync();
    await until(() => seen.length === 4);
    expect(seen).toEqual(['add a@1', 'add b@11', 'update a@12', 'delete b']);
    expect(reflector.keys()).toEqual(['ns/a']);
    expect(source.watchedFrom).toEqual(['10']);
    await reflector.stop();
  });

  it('watches again from the last version when the server ends a watch', async () => {
    const source = new ScriptedSource([
      { kind: 'list', items: [], resourceVersion: '5' },
      { kind: 'watch', events: [{ type: 'ADDED', object: object('a', '6') }], end: 'close' },
      { kind: 'watch', events: [{ type: 'BOOKMARK', object: object('', '9') }], end: 'close' },
      { kind: 'watch', events: [], end: 'hang' },
    ]);
    const reflector = new Reflector(source, {}, logger, { shortWatchMs: 0 });
    reflector.start();
    await until(() => source.watchedFrom.length === 3);
    expect(source.watchedFrom).toEqual(['5', '6', '9']);
    expect(source.lists).toBe(1);
    await reflector.stop();
  });

  it('lists again after 410 Gone and reports what changed meanwhile, deletions included', async () => {
    const source = new ScriptedSource([
      { kind: 'list', items: [object('a', '1'), object('b', '2')], resourceVersion: '2' },
      { kind: 'watch', events: [], end: 'gone' },
      { kind: 'list', items: [object('a', '7'), object('c', '8')], resourceVersion: '8' },
      { kind: 'watch', events: [], end: 'hang' },
    ]);
    const { seen, handler } = recorder();
    const reflector = new Reflector(source, handler, logger);
    reflector.start();
    await until(() => reflector.listCount === 2 && seen.length === 5);
    expect(seen).toEqual(['add a@1', 'add b@2', 'update a@7', 'add c@8', 'delete b']);
    expect(reflector.keys().sort()).toEqual(['ns/a', 'ns/c']);
    expect(source.watchedFrom).toEqual(['2', '8']);
    await reflector.stop();
  });

  it('backs off and lists again when listing or watching fails', async () => {
    const source = new ScriptedSource([
      { kind: 'list-fails' },
      { kind: 'list', items: [object('a', '1')], resourceVersion: '1' },
      { kind: 'watch', events: [], end: 'error' },
      { kind: 'list', items: [object('a', '1')], resourceVersion: '3' },
      { kind: 'watch', events: [], end: 'hang' },
    ]);
    const reflector = new Reflector(source, {}, logger, { baseBackoffMs: 10, maxBackoffMs: 50 });
    reflector.start();
    await until(() => source.watchedFrom.length === 2);
    expect(source.lists).toBe(3);
    expect(source.watchedFrom).toEqual(['1', '3']);
    expect(reflector.synced).toBe(true);
    await reflector.stop();
  });

  it('keeps a newer copy written by this process over an older watch event', async () => {
    const source = new ScriptedSource([
      { kind: 'list', items: [object('a', '5')], resourceVersion: '5' },
      { kind: 'watch', events: [], end: 'hang' },
    ]);
    const reflector = new Reflector(source, {}, logger);
    reflector.start();
    await reflector.waitForSync();
    reflector.remember(object('a', '9', { spec: { replicas: 3 } }));
    reflector.remember(object('a', '7'));
    expect(reflector.get('ns/a')?.metadata?.resourceVersion).toBe('9');
    await reflector.stop();
  });
});
