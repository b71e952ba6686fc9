import { describe, expect, it } from 'vitest';
import { parseBytes } from '../../../src/config/units.js';
import { talkWords } from '../../../src/download/commands.js';
import { PartMap } from '../../../src/download/part-map.js';
import { parseHeader } from '../../../src/download/request-headers.js';

describe('parts of a file', () => {
  it('lays out fixed parts, the last one shorter', () => {
    const m = new PartMap(100, 250);
    expect(m.parts.map((p) => [p.offset, p.length])).toEqual([[0, 100], [100, 100], [200, 50]]);
  });

  it('gives one connection a run of every free part, several connections one part each', () => {
    const m = new PartMap(100, 500);
    m.parts[2]!.held = true;
    expect(m.claim(0, true)).toEqual({ first: 0, last: 1 });
    expect(m.claim(1, false)).toEqual({ first: 3, last: 3 });
    expect(m.claim(2, false)).toEqual({ first: 4, last: 4 });
    expect(m.claim(3, false)).toBeNull();
    m.parts[0]!.written = 40;
    m.release(0);
    expect(m.runStart(m.claim(3, false)!)).toBe(40);
  });

  it('grows while the size is unknown, and takes the size where the stream ends', () => {
    const m = new PartMap(100, null);
    expect(m.claim(0, true)).toEqual({ first: 0, last: -1 });
    m.at(250).written = 30;
    expect(m.parts).toHaveLength(3);
    m.finishAt(230);
    expect(m.parts.map((p) => p.length)).toEqual([100, 100, 30]);
    expect(m.total).toBe(230);
  });
});

describe('sizes, headers and talk words', () => {
  it('reads sizes as curl and aria2 do (binary suffixes)', () => {
    expect([parseBytes('1M'), parseBytes('500K'), parseBytes('1.5m'), parseBytes('2GiB'), parseBytes('4096'), parseBytes('1M/s')]).toEqual([1048576, 512000, 1572864, 2147483648, 4096, 1048576]);
    expect([parseBytes('fast'), parseBytes('-1'), parseBytes('1T')]).toEqual([null, null, null]);
  });

  it('takes "Name: value" headers, refusing the ones the download sets itself', () => {
    expect(parseHeader('Authorization:  Bearer a b ')).toEqual(['Authorization', 'Bearer a b']);
    expect(parseHeader('Range: bytes=0-')).toMatch(/not allowed/);
    expect(parseHeader('Bad Name: x')).toMatch(/not a valid header name/);
    expect(parseHeader('X: a\r\nInjected: b')).toMatch(/must not contain CR, LF or NUL/);
  });

  it('splits a talk line into words, quotes keeping spaces', () => {
    expect(talkWords(`http://a/x header="Authorization: Bearer t" dest='my file.bin' rate=1M`)).toEqual(['http://a/x', 'header=Authorization: Bearer t', 'dest=my file.bin', 'rate=1M']);
  });
});

