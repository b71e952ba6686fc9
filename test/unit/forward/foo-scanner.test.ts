import { describe, expect, it } from 'vitest';
import { APP, APP_FIELDS } from '../../../src/forward/engine/types.js';
import { FooScanner, SCAN_OK, SCAN_TOO_LONG } from '../../../src/forward/foo-scanner.js';

/** An app's counter array, and the Foo counters read back as the stats show them. */
function counters(): Float64Array & { foo(): Record<string, number> } {
  const c = new Float64Array(APP_FIELDS) as Float64Array & { foo(): Record<string, number> };
  c.foo = () => ({ total: c[APP.msg_req]! + c[APP.msg_ack]! + c[APP.msg_nak]!, req: c[APP.msg_req]!, ack: c[APP.msg_ack]!, nak: c[APP.msg_nak]!, invalid: c[APP.msg_invalid]! });
  return c;
}

function feed(scanner: FooScanner, text: string | Buffer, pieces: number[] | 'bytes' = []): number[] {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  const out: number[] = [];
  if (pieces === 'bytes') {
    for (let i = 0; i < buf.length; i++) out.push(scanner.scan(buf.subarray(i, i + 1)));
    return out;
  }
  let at = 0;
  for (const p of [...pieces, buf.length]) {
    const end = Math.min(buf.length, at + p);
    if (end > at) out.push(scanner.scan(buf.subarray(at, end)));
    at = end;
  }
  return out;
}

describe('FooScanner', () => {
  it('counts pipelined REQs in one chunk and REQs written byte by byte the same', () => {
    const text = 'REQ 1 Hey\nREQ 2 Hey there\nREQ 3\nREQ -4 neg\n';
    const a = counters();
    const b = counters();
    expect(feed(new FooScanner(true, a, 1024, false), text)).toEqual([SCAN_OK]);
    expect(feed(new FooScanner(true, b, 1024, false), text, 'bytes').every((v) => v === SCAN_OK)).toBe(true);
    expect(a.foo()).toEqual({ total: 4, req: 4, ack: 0, nak: 0, invalid: 0 });
    expect(b.foo()).toEqual(a.foo());
  });

  it('counts ACK and NAK from the server side, split anywhere', () => {
    const c = counters();
    const s = new FooScanner(false, c, 1024, false);
    feed(s, 'ACK 1 Hello\nAC', []);
    feed(s, 'K 2\nNAK 5 Stop it\r\nN');
    feed(s, 'AK 6 Stop doing that\n');
    expect(c.foo()).toEqual({ total: 4, req: 0, ack: 2, nak: 2, invalid: 0 });
  });

  it('takes UTF-8 data split inside a character', () => {
    const c = counters();
    const buf = Buffer.from('REQ 7 héllo wörld ✓\n');
    const s = new FooScanner(true, c, 1024, false);
    expect(feed(s, buf, [8, 1, 1, 9])).toEqual([SCAN_OK, SCAN_OK, SCAN_OK, SCAN_OK, SCAN_OK]);
    expect(c.foo().req).toBe(1);
  });

  it.each([
    ['garbage', 'hello\n'],
    ['empty line', '\n'],
    ['lower-case type', 'req 1\n'],
    ['no seq', 'REQ\n'],
    ['no space after type', 'REQ1\n'],
    ['seq not a number', 'REQ x1\n'],
    ['seq with letters', 'REQ 12a data\n'],
    ['a server message from the client', 'ACK 1\n'],
    ['a lone sign', 'REQ - x\n'],
    ['CR not before LF', 'REQ 1\rx\n'],
  ])('counts %s as invalid and keeps the stream going (forward)', (_name, line) => {
    const c = counters();
    const s = new FooScanner(true, c, 1024, false);
    expect(feed(s, `${line}REQ 9 ok\n`)).toEqual([SCAN_OK]);
    expect(c.foo()).toMatchObject({ invalid: 1, req: 1, total: 1 });
  });

  it('reports where the invalid line starts under on_invalid=close', () => {
    const c = counters();
    const s = new FooScanner(true, c, 1024, true);
    const text = 'REQ 1 a\nREQ 2 b\nBAD line\nREQ 3 c\n';
    expect(s.scan(Buffer.from(text))).toBe(text.indexOf('BAD'));
    expect(c.foo()).toMatchObject({ req: 2, invalid: 1 });
  });

  it('reports offset 0 when the invalid line began in an earlier chunk', () => {
    const c = counters();
    const s = new FooScanner(true, c, 1024, true);
    expect(s.scan(Buffer.from('REQ 1\nRE'))).toBe(SCAN_OK);
    expect(s.scan(Buffer.from('X 2\n'))).toBe(0);
  });

  it('never closes for invalid server lines', () => {
    const c = counters();
    const s = new FooScanner(false, c, 1024, true);
    expect(s.scan(Buffer.from('REQ 1\nACK 1\n'))).toBe(SCAN_OK);
    expect(c.foo()).toMatchObject({ invalid: 1, ack: 1 });
  });

  it('closes on a line longer than max_line, across chunks too', () => {
    const s1 = new FooScanner(true, counters(), 64, false);
    expect(s1.scan(Buffer.from(`REQ 1 ${'x'.repeat(100)}\n`))).toBe(SCAN_TOO_LONG);
    const s2 = new FooScanner(true, counters(), 64, false);
    expect(s2.scan(Buffer.from(`REQ 1 ${'x'.repeat(50)}`))).toBe(SCAN_OK);
    expect(s2.scan(Buffer.from('x'.repeat(20)))).toBe(SCAN_TOO_LONG);
    const s3 = new FooScanner(true, counters(), 64, false);
    expect(s3.scan(Buffer.from(`REQ 1 ${'x'.repeat(58)}\n`))).toBe(SCAN_OK); // exactly 64 bytes before \n
  });

  it('does not count a partial last line', () => {
    const c = counters();
    const s = new FooScanner(true, c, 1024, false);
    s.scan(Buffer.from('REQ 1\nREQ 2'));
    expect(c.foo()).toMatchObject({ req: 1, total: 1, invalid: 0 });
  });
});
