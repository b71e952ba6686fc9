import type { Socket } from 'node:net';
import { SCAN_OK, SCAN_TOO_LONG, type FooScanner } from '../foo-scanner.js';

/**
 * One direction of a relayed connection in the node engine: src → dst with
 * backpressure (a full dst pauses src until it drains), half-close (src's end
 * ends dst's write side) and byte counting into the app's and the target's
 * counter arrays at index `field`. Handlers are bound once per connection,
 * never per chunk. In foo mode the scanner sees each chunk before it is
 * forwarded, unchanged.
 */
export class Pipe {
  readonly #src: Socket;
  readonly #dst: Socket;
  readonly #app: Float64Array;
  readonly #target: Float64Array;
  readonly #appField: number;
  readonly #targetField: number;
  readonly #scanner: FooScanner | null;
  readonly #onClose: (reason: string) => void;
  readonly #onFin: () => void;

  constructor(
    src: Socket,
    dst: Socket,
    counters: { app: Float64Array; appField: number; target: Float64Array; targetField: number },
    scanner: FooScanner | null,
    onClose: (reason: string) => void,
    onFin: () => void,
  ) {
    this.#src = src;
    this.#dst = dst;
    this.#app = counters.app;
    this.#target = counters.target;
    this.#appField = counters.appField;
    this.#targetField = counters.targetField;
    this.#scanner = scanner;
    this.#onClose = onClose;
    this.#onFin = onFin;
    src.on('data', this.#onData);
    src.on('end', this.#onEnd);
    dst.on('drain', this.#onDrain);
    // The client may have sent its FIN (and no data) while the target was being connected.
    if (src.readableEnded) this.#onEnd();
  }

  readonly #onData = (chunk: Buffer): void => {
    const n = chunk.length;
    this.#app[this.#appField] += n;
    this.#target[this.#targetField] += n;
    if (this.#scanner !== null) {
      const verdict = this.#scanner.scan(chunk);
      if (verdict !== SCAN_OK) {
        if (verdict === SCAN_TOO_LONG) this.#onClose('foo line too long');
        else this.#closeAfter(chunk.subarray(0, verdict));
        return;
      }
    }
    if (!this.#dst.write(chunk)) this.#src.pause();
  };

  readonly #onDrain = (): void => {
    this.#src.resume();
  };

  readonly #onEnd = (): void => {
    this.#dst.end();
    this.#onFin();
  };

  /** on_invalid=close: forward what came before the bad line, then close both sides. */
  #closeAfter(prefix: Buffer): void {
    this.#src.off('data', this.#onData);
    this.#src.destroy();
    const dst = this.#dst;
    dst.end(prefix, () => dst.destroy());
  }
}
