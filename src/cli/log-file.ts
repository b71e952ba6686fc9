import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Reading a log file as `tail -n N -f` does: the last lines, then what is
 * appended, from the start again when the file was truncated or replaced.
 */

/** How far back the last lines are looked for. */
const TAIL_WINDOW = 4 * 1024 * 1024;
const FOLLOW_POLL_MS = 200;

function readRange(path: string, from: number, to: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, to - from));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** The last `n` complete lines, and the offset after them (where following starts). */
export function tailLines(path: string, n: number): { lines: string[]; offset: number } {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  closeSync(fd);
  const from = Math.max(0, size - TAIL_WINDOW);
  const text = readRange(path, from, size).toString('utf8');
  const end = text.lastIndexOf('\n') + 1;
  const lines = text.slice(0, end).split('\n').slice(0, -1);
  // A window that starts mid-file starts mid-line: drop that partial first line.
  if (from > 0) lines.shift();
  return { lines: lines.slice(-n), offset: from + Buffer.byteLength(text.slice(0, end)) };
}

/** Calls `onLine` for every complete line appended after `offset`, until `signal` aborts. */
export async function followLines(path: string, offset: number, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
  let pos = offset;
  let ino = statSync(path).ino;
  let partial = '';
  while (!signal.aborted) {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && (st.ino !== ino || st.size < pos)) {
      // Replaced or truncated: from its start.
      ino = st.ino;
      pos = 0;
      partial = '';
    }
    if (st && st.size > pos) {
      const text = partial + readRange(path, pos, st.size).toString('utf8');
      pos = st.size;
      const parts = text.split('\n');
      partial = parts.pop()!;
      for (const line of parts) onLine(line);
      continue;
    }
    await sleep(FOLLOW_POLL_MS, undefined, { signal }).catch(() => undefined);
  }
}
