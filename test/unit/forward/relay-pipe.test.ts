import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Pipe } from '../../../src/forward/engine/node-relay.js';

/**
 * The node engine's Pipe on stand-in sockets: what it does when the
 * destination's write() says "buffer full", without a real slow reader.
 */

class FakeSocket extends EventEmitter {
  readableEnded = false;
  paused = false;
  pauses = 0;
  resumes = 0;
  ended = false;
  written: Buffer[] = [];
  /** What the next write() returns: false means the destination's buffer is over its high-water mark. */
  accept = true;
  pause(): this {
    this.paused = true;
    this.pauses++;
    return this;
  }
  resume(): this {
    this.paused = false;
    this.resumes++;
    return this;
  }
  write(chunk: Buffer): boolean {
    this.written.push(chunk);
    return this.accept;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    return this;
  }
}

function pipe(opts: { srcEnded?: boolean } = {}) {
  const src = new FakeSocket();
  src.readableEnded = opts.srcEnded ?? false;
  const dst = new FakeSocket();
  const app = new Float64Array(4);
  const target = new Float64Array(4);
  const fins: number[] = [];
  const closes: string[] = [];
  new Pipe(src as unknown as Socket, dst as unknown as Socket, { app, appField: 1, target, targetField: 2 }, null, (r) => closes.push(r), () => fins.push(1));
  return { src, dst, app, target, fins, closes };
}

describe('node relay Pipe', () => {
  it('forwards each chunk unchanged and counts its bytes on the app and the target', () => {
    const { src, dst, app, target } = pipe();
    const a = Buffer.from('hello');
    const b = Buffer.alloc(1000, 7);
    src.emit('data', a);
    src.emit('data', b);
    expect(dst.written).toEqual([a, b]);
    expect(dst.written[0]).toBe(a); // no copy
    expect(app[1]).toBe(1005);
    expect(target[2]).toBe(1005);
    expect(src.pauses).toBe(0);
  });

  it('pauses its source when write() returns false and resumes it on drain, not before', () => {
    const { src, dst } = pipe();
    dst.accept = false;
    src.emit('data', Buffer.from('x'));
    expect(src.paused).toBe(true);
    expect(src.pauses).toBe(1);
    expect(src.resumes).toBe(0);
    dst.accept = true;
    dst.emit('drain');
    expect(src.paused).toBe(false);
    expect(src.resumes).toBe(1);
    src.emit('data', Buffer.from('y'));
    expect(src.pauses).toBe(1);
    expect(dst.written.map(String)).toEqual(['x', 'y']);
  });

  it("ends the destination's write side when the source ends (half-close), and reports the FIN", () => {
    const { src, dst, fins } = pipe();
    expect(dst.ended).toBe(false);
    src.emit('end');
    expect(dst.ended).toBe(true);
    expect(fins).toHaveLength(1);
  });

  it('passes on a FIN the client sent before the pipe was built', () => {
    const { dst, fins } = pipe({ srcEnded: true });
    expect(dst.ended).toBe(true);
    expect(fins).toHaveLength(1);
  });
});
