import { describe, expect, it } from 'vitest';
import { LineRing, LineSplitter } from '../../../src/deploy/log-lines.js';

describe('LineRing', () => {
  it('keeps the last lines in order once it wraps', () => {
    const ring = new LineRing<number>(3);
    for (let i = 1; i <= 5; i++) ring.push(i);
    expect(ring.size).toBe(3);
    expect(ring.tail()).toEqual([3, 4, 5]);
    expect(ring.tail(2)).toEqual([4, 5]);
    expect(ring.tail(10)).toEqual([3, 4, 5]);
  });

  it('returns what it has before it is full', () => {
    const ring = new LineRing<string>(1000);
    ring.push('a');
    ring.push('b');
    expect(ring.tail(1)).toEqual(['b']);
    expect(ring.tail()).toEqual(['a', 'b']);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new LineRing(0)).toThrow(/capacity/);
  });
});

describe('LineSplitter', () => {
  it('reassembles lines split across chunks and splits many lines in one chunk', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    s.write('hel');
    s.write('lo\nwor');
    s.write('ld\r\na\nb\n\nc');
    expect(lines).toEqual(['hello', 'world', 'a', 'b', '']);
    s.end();
    expect(lines.at(-1)).toBe('c');
  });

  it('cuts a line that never ends into pieces of maxLine', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), 4);
    s.write('abcdefghij');
    expect(lines).toEqual(['abcd', 'efgh']);
    s.write('\n');
    expect(lines).toEqual(['abcd', 'efgh', 'ij']);
  });
});
