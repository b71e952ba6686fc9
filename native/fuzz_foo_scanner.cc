// libFuzzer target of the C++ Foo scanner (built by `npm run build:native -- --fuzz`,
// run for a bounded time by .ci/run, seeded with test/fuzz/foo-corpus).
//
// The first input byte picks the side, the on_invalid policy and max_line;
// the rest is cut into chunks at positions taken from the data itself, so
// lines split across reads are covered. Checked invariants, beyond ASan and
// UBSan finding no bad access:
//   - a verdict is kScanOk, kScanTooLong, or an offset inside the chunk;
//   - the counts equal those of scanning the same bytes one byte at a time
//     (the fast path and the state machine agree), as long as neither scan
//     stopped early (a verdict other than kScanOk ends a connection).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "foo_scanner.h"

using pxc::FooCounts;
using pxc::FooScanner;
using pxc::kScanOk;
using pxc::kScanTooLong;

static bool run(const uint8_t* data, size_t size, bool client, uint32_t max_line, bool close_inv, size_t step_seed, FooCounts* out) {
  FooScanner s;
  s.init(client, max_line, close_inv);
  size_t at = 0;
  size_t seed = step_seed;
  while (at < size) {
    size_t step = step_seed == 0 ? 1 : 1 + (seed % 97);
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    if (step > size - at) step = size - at;
    long v = s.scan(data + at, step, out);
    if (v == kScanTooLong) return false;
    if (v != kScanOk) {
      if (v < 0 || static_cast<size_t>(v) > step) abort();  // an offset must lie inside the chunk
      return false;
    }
    at += step;
  }
  return true;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t mode = data[0];
  const bool client = mode & 1;
  const bool close_inv = mode & 2;
  const uint32_t max_line = 64u + (mode >> 2) * 8u;
  const size_t seed = data[1] + 1;
  FooCounts chunked, bytes;
  bool a = run(data + 2, size - 2, client, max_line, close_inv, seed, &chunked);
  bool b = run(data + 2, size - 2, client, max_line, close_inv, 0, &bytes);
  if (a && b && (chunked.req != bytes.req || chunked.ack != bytes.ack || chunked.nak != bytes.nak || chunked.invalid != bytes.invalid)) abort();
  return 0;
}
