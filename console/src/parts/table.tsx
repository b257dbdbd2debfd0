import type { ComponentChildren } from 'preact';

export interface Column<T> {
  label: string;
  /** A right-aligned figure. */
  num?: boolean;
  cell: (item: T) => ComponentChildren;
}

/**
 * A table of `items`, one row each, one cell per column. A `list` table
 * turns into stacked cards on narrow screens: each cell carries its
 * column's label for the stylesheet to show.
 */
export function Table<T>({
  caption,
  columns,
  items,
  rowKey,
  list = false,
}: {
  /** Read by screen readers only. */
  caption?: ComponentChildren;
  columns: Column<T>[];
  items: T[];
  rowKey: (item: T) => string | number;
  list?: boolean;
}) {
  const align = (column: Column<T>) => (column.num ? 'num' : undefined);
  return (
    <table class={list ? 'list' : undefined}>
      {caption && <caption class="sr-only">{caption}</caption>}
      <thead>
        <tr>
          {columns.map((column) => (
            <th key={column.label} scope="col" class={align(column)}>
              {column.label}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {items.map((item) => (
          <tr key={rowKey(item)}>
            {columns.map((column) => (
              <td
                key={column.label}
                class={align(column)}
                data-label={list ? column.label : undefined}
              >
                {column.cell(item)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
