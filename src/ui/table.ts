import type CliTable from 'cli-table3';
import { lazyRequire } from '../lazy-require.js';

// Loaded when the first table is drawn, not by every CLI start that imports this module.
const load = lazyRequire<typeof CliTable>('cli-table3');

/**
 * A borderless, aligned table as operators' tools print them (kubectl get,
 * systemctl list-units): one header style everywhere, upper case, whatever the caller wrote.
 */
export function renderTable(head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const table = new (load())({
    head: head.map((h) => h.toUpperCase()),
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) table.push(row.map((c) => String(c)));
  return table.toString().split('\n').map((l) => l.trimEnd()).join('\n');
}

/** `key  value` lines for a flat record. */
export function renderKeyValues(record: Readonly<Record<string, unknown>>): string {
  const width = Math.max(0, ...Object.keys(record).map((k) => k.length));
  return Object.entries(record)
    .map(([k, v]) => `${k.padEnd(width)}  ${v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}
