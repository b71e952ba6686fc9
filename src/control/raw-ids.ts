/**
 * The source text of JSON-RPC ids. JSON.parse turns `1e400` into Infinity,
 * `1.0` into 1 and `12345678901234567890` into 12345678901234567000, but a
 * reply must carry the id exactly as the client sent it. So the id member's
 * raw token is read from the line itself.
 *
 * The scanner runs only over text JSON.parse has accepted, so it skips values
 * without validating them. Like JSON.parse, it takes the last of duplicate
 * keys; a key is decoded (`"\u0069d"` is `id`).
 */

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function skipWs(s: string, i: number): number {
  while (i < s.length && WS.has(s.charCodeAt(i))) i++;
  return i;
}

/** Index just past the string starting at `i` (at its opening quote). */
function skipString(s: string, i: number): number {
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) i++; // backslash: skip the escaped character
    else if (c === 0x22) return i + 1;
  }
  return i;
}

/** Index just past the value starting at `i`. */
function skipValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x22) return skipString(s, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (; i < s.length; i++) {
      const d = s.charCodeAt(i);
      if (d === 0x22) i = skipString(s, i) - 1;
      else if (d === 0x7b || d === 0x5b) depth++;
      else if ((d === 0x7d || d === 0x5d) && --depth === 0) return i + 1;
    }
    return i;
  }
  // number, true, false, null: up to the next delimiter
  while (i < s.length) {
    const d = s.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || WS.has(d)) break;
    i++;
  }
  return i;
}

/** The raw `id` token of the object starting at `i`, and the index past the object. */
function objectId(s: string, i: number): { id: string | undefined; end: number } {
  let id: string | undefined;
  i = skipWs(s, i + 1);
  if (s.charCodeAt(i) === 0x7d) return { id, end: i + 1 };
  for (;;) {
    const keyEnd = skipString(s, i);
    const key = JSON.parse(s.slice(i, keyEnd)) as string;
    i = skipWs(s, skipWs(s, keyEnd) + 1); // past ':'
    const valueEnd = skipValue(s, i);
    if (key === 'id') id = s.slice(i, valueEnd);
    i = skipWs(s, valueEnd);
    if (s.charCodeAt(i) === 0x2c) i = skipWs(s, i + 1);
    else return { id, end: i + 1 };
  }
}

/** The raw id token of a single request's text (an object), if it has an id. */
export function rawRequestId(text: string): string | undefined {
  const i = skipWs(text, 0);
  return text.charCodeAt(i) === 0x7b ? objectId(text, i).id : undefined;
}

/** The raw id token of each element of a batch's text (an array), in order; undefined for elements without one. */
export function rawBatchIds(text: string): Array<string | undefined> {
  const ids: Array<string | undefined> = [];
  let i = skipWs(text, 0);
  if (text.charCodeAt(i) !== 0x5b) return ids;
  i = skipWs(text, i + 1);
  if (text.charCodeAt(i) === 0x5d) return ids;
  for (;;) {
    if (text.charCodeAt(i) === 0x7b) {
      const { id, end } = objectId(text, i);
      ids.push(id);
      i = end;
    } else {
      ids.push(undefined);
      i = skipValue(text, i);
    }
    i = skipWs(text, i);
    if (text.charCodeAt(i) !== 0x2c) return ids;
    i = skipWs(text, i + 1);
  }
}
