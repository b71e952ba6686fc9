import { APP } from './engine/types.js';

/**
 * Counts Foo messages in a byte stream without touching it. The proxy hands
 * every chunk to `scan` and then forwards the very same chunk: no copy, no
 * re-framing, no waiting for a line's end. The scanner only keeps a few
 * numbers of state across chunks, so a line split over many packets (or a
 * multi-byte UTF-8 character split between them) is judged when its `\n` comes.
 *
 *   Msg  := Type <whitespace> Seq [<whitespace> Data] '\n'
 *   Type := "REQ" | "ACK" | "NAK"      (REQ from clients, ACK/NAK from servers)
 *   Seq  := integer (optional "-", digits)
 *
 * A trailing "\r" before "\n" is accepted (telnet). Data is not decoded.
 */

/**
 * The app's counters (indexed by APP): the scanner adds to msg_req, msg_ack,
 * msg_nak and msg_invalid; msg_total and the rates are derived from them.
 * native/foo_scanner.h is the C++ port of this file: keep them in step.
 */
export type FooCounters = Float64Array;

/** `scan` found nothing that stops the connection. */
export const SCAN_OK = -1;
/** A line grew past `max_line`: close the connection. */
export const SCAN_TOO_LONG = -2;

const NL = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const MINUS = 0x2d;

const T_REQ = (0x52 << 16) | (0x45 << 8) | 0x51;
const T_ACK = (0x41 << 16) | (0x43 << 8) | 0x4b;
const T_NAK = (0x4e << 16) | (0x41 << 8) | 0x4b;

const enum S {
  Type0,
  Type1,
  Type2,
  Sep, // one whitespace required after the type
  SeqStart, // more whitespace, a sign or the first digit
  SeqSign, // after "-": a digit required
  Seq, // digits; whitespace → data, \r → CR, \n → end
  CR, // after "\r" that followed the seq: only \n
  Data, // anything up to \n
  Invalid, // skip to \n
}

export class FooScanner {
  readonly #fromClient: boolean;
  readonly #c: FooCounters;
  readonly #maxLine: number;
  readonly #closeOnInvalid: boolean;
  #state: S = S.Type0;
  // Messages seen in the chunk being scanned, added to the counters when it is done.
  #nReq = 0;
  #nAck = 0;
  #nNak = 0;
  #nInvalid = 0;
  #type = 0;
  #lineLen = 0;

  /**
   * @param fromClient client→server stream (REQ valid) or server→client (ACK/NAK valid)
   * @param closeOnInvalid report an invalid line so the caller closes (client side only)
   */
  constructor(fromClient: boolean, counters: FooCounters, maxLine: number, closeOnInvalid: boolean) {
    this.#fromClient = fromClient;
    this.#c = counters;
    this.#maxLine = maxLine;
    this.#closeOnInvalid = closeOnInvalid && fromClient;
  }

  /**
   * Scans one chunk. Returns SCAN_OK, SCAN_TOO_LONG, or (on_invalid close)
   * the offset in `chunk` where the invalid line starts (0 if it started in
   * an earlier chunk): the caller forwards the bytes before it and closes.
   */
  scan(chunk: Buffer): number {
    const verdict = this.#scan(chunk);
    // Counters are bumped once per chunk, not once per message.
    if (this.#nReq + this.#nAck + this.#nNak + this.#nInvalid !== 0) {
      const c = this.#c;
      c[APP.msg_req] += this.#nReq;
      c[APP.msg_ack] += this.#nAck;
      c[APP.msg_nak] += this.#nNak;
      c[APP.msg_invalid] += this.#nInvalid;
      this.#nReq = this.#nAck = this.#nNak = this.#nInvalid = 0;
    }
    return verdict;
  }

  #scan(chunk: Buffer): number {
    const len = chunk.length;
    let state = this.#state;
    let type = this.#type;
    let lineStart = this.#lineLen === 0 ? 0 : -this.#lineLen; // offset of the current line's first byte
    let i = 0;
    while (i < len) {
      if (state === S.Type0 && i === lineStart) {
        // Fast path: a line that ends inside this chunk is judged in one pass
        // over its bytes; the state machine below takes lines split across chunks.
        const t = this.#judgeHeader(chunk, i, len);
        let nl = this.#headerEnd;
        while (nl < len && chunk[nl] !== NL) nl++;
        if (nl < len) {
          if (nl - i > this.#maxLine) return this.#tooLong();
          if (t !== 0) this.#count(t);
          else {
            this.#nInvalid++;
            if (this.#closeOnInvalid) return i;
          }
          i = nl + 1;
          lineStart = i;
          continue;
        }
        if (len - i > this.#maxLine) return this.#tooLong();
        // No \n in this chunk: fall through to the state machine from the line's start.
      }
      if (state === S.Data || state === S.Invalid) {
        const nl = chunk.indexOf(NL, i);
        if (nl === -1) {
          i = len;
          break;
        }
        if (nl - lineStart > this.#maxLine) return this.#tooLong();
        if (state === S.Data) this.#count(type);
        else this.#nInvalid++;
        i = nl + 1;
        lineStart = i;
        state = S.Type0;
        type = 0;
        continue;
      }
      const b = chunk[i]!;
      if (b === NL) {
        if (i - lineStart > this.#maxLine) return this.#tooLong();
        if (state === S.Seq || state === S.CR) this.#count(type);
        else {
          this.#nInvalid++;
          if (this.#closeOnInvalid) return lineStart < 0 ? 0 : lineStart;
        }
        i++;
        lineStart = i;
        state = S.Type0;
        type = 0;
        continue;
      }
      switch (state) {
        case S.Type0:
        case S.Type1:
          type = (type << 8) | b;
          state++;
          break;
        case S.Type2:
          type = (type << 8) | b;
          state = (this.#fromClient ? type === T_REQ : type === T_ACK || type === T_NAK) ? S.Sep : S.Invalid;
          break;
        case S.Sep:
          state = b === SP || b === TAB ? S.SeqStart : S.Invalid;
          break;
        case S.SeqStart:
          if (b >= 0x30 && b <= 0x39) state = S.Seq;
          else if (b === MINUS) state = S.SeqSign;
          else if (b !== SP && b !== TAB) state = S.Invalid;
          break;
        case S.SeqSign:
          state = b >= 0x30 && b <= 0x39 ? S.Seq : S.Invalid;
          break;
        case S.Seq:
          if (b === SP || b === TAB) state = S.Data;
          else if (b === CR) state = S.CR;
          else if (b < 0x30 || b > 0x39) state = S.Invalid;
          break;
        case S.CR:
          state = S.Invalid; // "\r" not followed by "\n"
          break;
      }
      i++;
      if (state === S.Invalid && this.#closeOnInvalid) {
        this.#nInvalid++;
        return lineStart < 0 ? 0 : lineStart;
      }
    }
    const lineLen = len - lineStart;
    if (lineLen > this.#maxLine) return this.#tooLong();
    this.#lineLen = lineLen;
    this.#state = state;
    this.#type = type;
    return SCAN_OK;
  }

  /** Where #judgeHeader stopped: the scan for \n continues from here. */
  #headerEnd = 0;

  /**
   * Judges the header of the line starting at `s` (Type, whitespace, Seq and
   * what follows it) and returns the type if it makes a valid message from
   * this side, else 0. Leaves #headerEnd at the first byte not yet looked at;
   * a line whose \n is not in the chunk is re-judged by the state machine.
   */
  #judgeHeader(chunk: Buffer, s: number, len: number): number {
    this.#headerEnd = s;
    if (len - s < 6) return 0; // shortest message "REQ 1\n"; a shorter complete line is invalid anyway
    const type = (chunk[s]! << 16) | (chunk[s + 1]! << 8) | chunk[s + 2]!;
    if (this.#fromClient ? type !== T_REQ : type !== T_ACK && type !== T_NAK) return 0;
    let j = s + 3;
    let b = chunk[j]!;
    if (b !== SP && b !== TAB) return 0;
    do b = chunk[++j]!;
    while (j < len && (b === SP || b === TAB));
    if (b === MINUS && j < len) b = chunk[++j]!;
    const digits = j;
    while (j < len && b >= 0x30 && b <= 0x39) b = chunk[++j]!;
    this.#headerEnd = j;
    if (j === digits || j === len) return 0;
    if (b === NL || b === SP || b === TAB) return type;
    if (b === CR && j + 1 < len && chunk[j + 1] === NL) return type;
    return 0;
  }

  #count(type: number): void {
    if (type === T_REQ) this.#nReq++;
    else if (type === T_ACK) this.#nAck++;
    else this.#nNak++;
  }

  #tooLong(): number {
    this.#state = S.Invalid;
    return SCAN_TOO_LONG;
  }
}
