import type { ComponentChildren } from 'preact';
import { plural } from '../format';

const MAX_ENTRIES = 200;

function Primitive({ value }: { value: unknown }) {
  if (value === null) return <span class="j-null">null</span>;
  if (typeof value === 'string') return <span class="j-str">{JSON.stringify(value)}</span>;
  if (typeof value === 'number' || typeof value === 'boolean')
    return <span class="j-num">{String(value)}</span>;
  return <span class="j-null">{String(value)}</span>;
}

function Node({ name, value, open }: { name: ComponentChildren; value: unknown; open: boolean }) {
  if (value === null || typeof value !== 'object') {
    return (
      <div class="j-row">
        {name !== undefined && <span class="j-key">{name}: </span>}
        <Primitive value={value} />
      </div>
    );
  }
  const entries: Array<[string, unknown]> = Array.isArray(value)
    ? value.map((item, index) => [String(index), item])
    : Object.entries(value);
  const brackets = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    return (
      <div class="j-row">
        {name !== undefined && <span class="j-key">{name}: </span>}
        {brackets.join('')}
      </div>
    );
  }
  return (
    <details class="j-node" open={open}>
      <summary>
        {name !== undefined && <span class="j-key">{name}: </span>}
        {brackets[0]}
        <span class="j-count">{plural(entries.length, Array.isArray(value) ? 'item' : 'key')}</span>
        {brackets[1]}
      </summary>
      <div class="j-children">
        {entries.slice(0, MAX_ENTRIES).map(([key, item]) => (
          <Node key={key} name={key} value={item} open={false} />
        ))}
        {entries.length > MAX_ENTRIES && (
          <div class="j-more">… {entries.length - MAX_ENTRIES} more</div>
        )}
      </div>
    </details>
  );
}

/** A JSON value as a tree of native <details>: keyboard and screen-reader friendly for free. */
export function JsonView({ value, label }: { value: unknown; label?: string }) {
  return (
    <div class="json" title={label}>
      <Node name={undefined} value={value} open={true} />
    </div>
  );
}
