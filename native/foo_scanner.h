// The Foo scanner: counts Foo messages in a byte stream without touching it.
// A line-for-line port of src/forward/foo-scanner.ts (keep the two in step;
// test/unit/forward/native-parity.test.ts feeds both the same chunks).
//
//   Msg  := Type <whitespace> Seq [<whitespace> Data] '\n'
//   Type := "REQ" | "ACK" | "NAK"      (REQ from clients, ACK/NAK from servers)
//   Seq  := integer (optional "-", digits)
//
// A trailing "\r" before "\n" is accepted. Data is not decoded. The state
// across chunks is a few integers, so a line split over many reads is judged
// when its '\n' arrives. No allocation, no exceptions; every index is checked
// against the chunk's length before it is read.
#ifndef PXC_FOO_SCANNER_H
#define PXC_FOO_SCANNER_H

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pxc {

// scan() found nothing that stops the connection.
constexpr long kScanOk = -1;
// A line grew past max_line: close the connection.
constexpr long kScanTooLong = -2;

struct FooCounts {
  uint64_t req = 0, ack = 0, nak = 0, invalid = 0;
};

class FooScanner {
 public:
  FooScanner() = default;
  // from_client: the client->server stream (REQ valid), else server->client (ACK/NAK valid).
  // close_on_invalid: report an invalid line's offset so the caller closes (client side only).
  void init(bool from_client, uint32_t max_line, bool close_on_invalid) {
    from_client_ = from_client;
    max_line_ = max_line;
    close_on_invalid_ = close_on_invalid && from_client;
    state_ = kType0;
    type_ = 0;
    line_len_ = 0;
  }

  // Scans one chunk, adding what it counted to `out`. Returns kScanOk,
  // kScanTooLong, or (close_on_invalid) the offset in the chunk where the
  // invalid line starts (0 if it started in an earlier chunk).
  long scan(const uint8_t* p, size_t len, FooCounts* out) {
    n_ = FooCounts();
    long verdict = scan_(p, static_cast<long>(len));
    out->req += n_.req;
    out->ack += n_.ack;
    out->nak += n_.nak;
    out->invalid += n_.invalid;
    return verdict;
  }

 private:
  enum State : uint8_t { kType0, kType1, kType2, kSep, kSeqStart, kSeqSign, kSeq, kCr, kData, kInvalid };
  static constexpr uint32_t kReq = (0x52u << 16) | (0x45u << 8) | 0x51u;
  static constexpr uint32_t kAck = (0x41u << 16) | (0x43u << 8) | 0x4bu;
  static constexpr uint32_t kNak = (0x4eu << 16) | (0x41u << 8) | 0x4bu;
  static constexpr int NL = 0x0a, CR = 0x0d, SP = 0x20, TAB = 0x09, MINUS = 0x2d;

  static bool digit(int b) { return b >= 0x30 && b <= 0x39; }
  static bool ws(int b) { return b == SP || b == TAB; }

  long scan_(const uint8_t* p, long len) {
    State state = state_;
    uint32_t type = type_;
    // Offset of the current line's first byte: negative when it began in an earlier chunk.
    long line_start = line_len_ == 0 ? 0 : -static_cast<long>(line_len_);
    long i = 0;
    while (i < len) {
      if (state == kType0 && i == line_start) {
        // Fast path: a line that ends inside this chunk is judged in one pass.
        uint32_t t = judge_header(p, i, len);
        long nl = header_end_;
        if (nl < len) {
          const void* hit = memchr(p + nl, NL, static_cast<size_t>(len - nl));
          nl = hit ? static_cast<const uint8_t*>(hit) - p : len;
        }
        if (nl < len) {
          if (nl - i > static_cast<long>(max_line_)) return too_long();
          if (t != 0) {
            count(t);
          } else {
            n_.invalid++;
            if (close_on_invalid_) return i;
          }
          i = nl + 1;
          line_start = i;
          continue;
        }
        if (len - i > static_cast<long>(max_line_)) return too_long();
        // No '\n' in this chunk: the state machine takes the line from its start.
      }
      if (state == kData || state == kInvalid) {
        const void* hit = memchr(p + i, NL, static_cast<size_t>(len - i));
        if (hit == nullptr) {
          i = len;
          break;
        }
        long nl = static_cast<const uint8_t*>(hit) - p;
        if (nl - line_start > static_cast<long>(max_line_)) return too_long();
        if (state == kData) count(type);
        else n_.invalid++;
        i = nl + 1;
        line_start = i;
        state = kType0;
        type = 0;
        continue;
      }
      const int b = p[i];
      if (b == NL) {
        if (i - line_start > static_cast<long>(max_line_)) return too_long();
        if (state == kSeq || state == kCr) {
          count(type);
        } else {
          n_.invalid++;
          if (close_on_invalid_) return line_start < 0 ? 0 : line_start;
        }
        i++;
        line_start = i;
        state = kType0;
        type = 0;
        continue;
      }
      switch (state) {
        case kType0:
        case kType1:
          type = (type << 8) | static_cast<uint32_t>(b);
          state = static_cast<State>(state + 1);
          break;
        case kType2:
          type = ((type << 8) | static_cast<uint32_t>(b)) & 0xffffffu;
          state = (from_client_ ? type == kReq : (type == kAck || type == kNak)) ? kSep : kInvalid;
          break;
        case kSep:
          state = ws(b) ? kSeqStart : kInvalid;
          break;
        case kSeqStart:
          if (digit(b)) state = kSeq;
          else if (b == MINUS) state = kSeqSign;
          else if (!ws(b)) state = kInvalid;
          break;
        case kSeqSign:
          state = digit(b) ? kSeq : kInvalid;
          break;
        case kSeq:
          if (ws(b)) state = kData;
          else if (b == CR) state = kCr;
          else if (!digit(b)) state = kInvalid;
          break;
        case kCr:
          state = kInvalid;  // "\r" not followed by "\n"
          break;
        default:
          break;
      }
      i++;
      if (state == kInvalid && close_on_invalid_) {
        n_.invalid++;
        return line_start < 0 ? 0 : line_start;
      }
    }
    const long line_len = len - line_start;
    if (line_len > static_cast<long>(max_line_)) return too_long();
    line_len_ = static_cast<uint32_t>(line_len);
    state_ = state;
    type_ = type;
    return kScanOk;
  }

  // Byte at j, or -1 past the end (the TypeScript reads `undefined` there).
  static int at(const uint8_t* p, long j, long len) { return j < len ? p[j] : -1; }

  // Judges the header of the line starting at s; returns its type if it makes
  // a valid message from this side, else 0. Leaves header_end_ at the first
  // byte not yet looked at.
  uint32_t judge_header(const uint8_t* p, long s, long len) {
    header_end_ = s;
    if (len - s < 6) return 0;  // shortest message "REQ 1\n"
    const uint32_t type = (static_cast<uint32_t>(p[s]) << 16) | (static_cast<uint32_t>(p[s + 1]) << 8) | p[s + 2];
    if (from_client_ ? type != kReq : (type != kAck && type != kNak)) return 0;
    long j = s + 3;
    int b = p[j];  // s + 3 < len: len - s >= 6
    if (!ws(b)) return 0;
    do b = at(p, ++j, len);
    while (j < len && ws(b));
    if (b == MINUS && j < len) b = at(p, ++j, len);
    const long digits = j;
    while (j < len && digit(b)) b = at(p, ++j, len);
    header_end_ = j;
    if (j == digits || j == len) return 0;
    if (b == NL || ws(b)) return type;
    if (b == CR && j + 1 < len && p[j + 1] == NL) return type;
    return 0;
  }

  void count(uint32_t type) {
    if (type == kReq) n_.req++;
    else if (type == kAck) n_.ack++;
    else n_.nak++;
  }

  long too_long() {
    state_ = kInvalid;
    return kScanTooLong;
  }

  bool from_client_ = true;
  bool close_on_invalid_ = false;
  State state_ = kType0;
  uint32_t max_line_ = 65536;
  uint32_t type_ = 0;
  uint32_t line_len_ = 0;
  long header_end_ = 0;
  FooCounts n_;
};

}  // namespace pxc

#endif
