import { describe, expect, it } from 'vitest';
import { Balancer, balanceOrder, balanceTable, rendezvous } from '../../../src/forward/balancer.js';
import { loadAddon } from '../../../src/forward/engine/index.js';
import { APP, APP_FIELDS } from '../../../src/forward/engine/types.js';
import { FooScanner } from '../../../src/forward/foo-scanner.js';

/** The native engine makes the same choices and counts as the TypeScript it ports (balancer.ts, foo-scanner.ts). */

const loaded = loadAddon();
if (!('addon' in loaded)) throw new Error(`the native addon must be built for these tests: ${loaded.error}`);
const addon = loaded.addon;
const MODE = { 'round-robin': 0, random: 1, 'least-conn': 2, sharding: 3 } as const;

/** A small deterministic PRNG, so a failure is reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

describe('balancing: native = balancer.ts', () => {
  const targets = ['10.0.0.1:80', '10.0.0.2:80', '[::1]:8080', 'web-3.internal:9000', '127.0.0.1:65535'].map((address, i) => ({ address, active: [3, 1, 1, 0, 7][i]! }));
  const WEIGHTS = [
    [1, 1, 1, 1, 1],
    [3, 1, 1, 1, 1],
    [5, 2, 7, 1, 256],
    [2, 2, 4, 6, 8],
  ];
  const native = (mode: keyof typeof MODE, weights: number[], key: string, start: number) => {
    const table = balanceTable(targets, weights);
    return addon.balanceOrder(MODE[mode], targets.map((t) => t.address), targets.map((t) => t.active), table.weights.slice(), Array.from(table.schedule), key, start);
  };

  it('round-robin and least-conn: the same order for the same position, with and without weights', () => {
    for (const weights of WEIGHTS)
      for (const mode of ['round-robin', 'least-conn'] as const) {
        const b = new Balancer<(typeof targets)[number]>(mode);
        const table = balanceTable(targets, weights);
        for (let k = 0; k < 40; k++) {
          const js = b.order(table, '').map((t) => targets.indexOf(t));
          expect(native(mode, weights, '', k), `${mode} ${weights} connection ${k}`).toEqual(js);
        }
      }
  });

  it('random: the same pick for the same random number, with and without weights', () => {
    const rnd = prng(3);
    for (const weights of WEIGHTS) {
      const table = balanceTable(targets, weights);
      for (let k = 0; k < 200; k++) {
        const start = Math.floor(rnd() * 0x100000000);
        expect(native('random', weights, '', start), `${weights} ${start}`).toEqual(balanceOrder('random', table, start, ''));
      }
    }
  });

  it('sharding: the same (weighted) rendezvous order for 2 000 client addresses', () => {
    const rnd = prng(7);
    for (let i = 0; i < 2000; i++) {
      const key = i % 3 === 0 ? `::ffff:10.${i % 256}.${(i * 7) % 256}.1` : `192.168.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
      const weights = WEIGHTS[i % WEIGHTS.length]!;
      const js = balanceOrder('sharding', balanceTable(targets, weights), 0, key);
      if (weights === WEIGHTS[0]) expect(js, 'equal weights keep the unweighted order').toEqual(rendezvous(targets, key).map((t) => targets.indexOf(t)));
      expect(native('sharding', weights, key, 0), `${key} ${weights}`).toEqual(js);
    }
  });
});

describe('Foo scanner: native = foo-scanner.ts', () => {
  const lines = ['REQ 1 Hey\n', 'REQ -4 neg\n', 'ACK 2\n', 'NAK 5 Stop it\r\n', 'hello\n', '\n', 'REQ\n', 'REQ1\n', 'REQ x1\n', 'REQ 1\rx\n', 'REQ 7 héllo ✓\n', 'REQ 12a d\n', 'REQ  \t 3\tdata\n', `REQ 9 ${'x'.repeat(90)}\n`, 'AC', 'K 3\n', 'REQ - x\n'];

  function js(chunks: Buffer[], fromClient: boolean, maxLine: number, closeOnInvalid: boolean): number[] {
    const c = new Float64Array(APP_FIELDS);
    const s = new FooScanner(fromClient, c, maxLine, closeOnInvalid);
    const verdicts: number[] = [];
    for (const ch of chunks) {
      const v = s.scan(ch);
      verdicts.push(v);
      if (v !== -1) break;
    }
    return [...verdicts, c[APP.msg_req]!, c[APP.msg_ack]!, c[APP.msg_nak]!, c[APP.msg_invalid]!];
  }

  const native = (chunks: Buffer[], fromClient: boolean, maxLine: number, closeOnInvalid: boolean) => addon.fooScan(chunks, fromClient, maxLine, closeOnInvalid);

  it('gives the same verdicts and counts over 3 000 random streams cut at random places', () => {
    const rnd = prng(42);
    for (let n = 0; n < 3000; n++) {
      let text = '';
      const count = 1 + Math.floor(rnd() * 12);
      for (let i = 0; i < count; i++) text += lines[Math.floor(rnd() * lines.length)];
      const buf = Buffer.from(text);
      const chunks: Buffer[] = [];
      for (let at = 0; at < buf.length; ) {
        const step = 1 + Math.floor(rnd() * (rnd() < 0.3 ? 3 : 40));
        chunks.push(buf.subarray(at, at + step));
        at += step;
      }
      const fromClient = rnd() < 0.7;
      const maxLine = rnd() < 0.2 ? 64 : 1024;
      const close = rnd() < 0.3;
      expect(native(chunks, fromClient, maxLine, close), JSON.stringify({ text, cuts: chunks.map((c) => c.length), fromClient, maxLine, close })).toEqual(js(chunks, fromClient, maxLine, close));
    }
  });
});
