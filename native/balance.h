// Load-balancing order of an app's usable targets for one new connection:
// the same choices as src/forward/balancer.ts (weights included; its header
// says what weight means in each mode) (test/unit/forward/native-parity
// checks them side by side). The first index is the choice, the rest are the
// fallbacks tried in turn when a connect fails.
#ifndef PXC_BALANCE_H
#define PXC_BALANCE_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace pxc {

enum Balance : int { kRoundRobin = 0, kRandom = 1, kLeastConn = 2, kSharding = 3 };

// SHA-1 (FIPS 180-1): only for rendezvous weights, never for security.
inline void sha1(const uint8_t* data, size_t len, uint8_t out[20]) {
  uint32_t h[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  auto rol = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  auto block = [&](const uint8_t* b) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t(b[4 * i]) << 24) | (uint32_t(b[4 * i + 1]) << 16) | (uint32_t(b[4 * i + 2]) << 8) | b[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) f = (bb & c) | (~bb & d), k = 0x5A827999u;
      else if (i < 40) f = bb ^ c ^ d, k = 0x6ED9EBA1u;
      else if (i < 60) f = (bb & c) | (bb & d) | (c & d), k = 0x8F1BBCDCu;
      else f = bb ^ c ^ d, k = 0xCA62C1D6u;
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(bb, 30), bb = a, a = t;
    }
    h[0] += a, h[1] += bb, h[2] += c, h[3] += d, h[4] += e;
  };
  size_t full = len / 64;
  for (size_t i = 0; i < full; i++) block(data + 64 * i);
  uint8_t tail[128];
  size_t rest = len - full * 64;
  memcpy(tail, data + full * 64, rest);
  tail[rest] = 0x80;
  size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
  memset(tail + rest + 1, 0, tail_len - rest - 1);
  uint64_t bits = uint64_t(len) * 8;
  for (int i = 0; i < 8; i++) tail[tail_len - 1 - i] = uint8_t(bits >> (8 * i));
  block(tail);
  if (tail_len == 128) block(tail + 64);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = uint8_t(h[i] >> 24), out[4 * i + 1] = uint8_t(h[i] >> 16), out[4 * i + 2] = uint8_t(h[i] >> 8), out[4 * i + 3] = uint8_t(h[i]);
  }
}

// The rendezvous weight of a target for a key: the first 8 bytes (big endian)
// of sha1(key "\0" address), as balancer.ts's weight(). Keys and addresses are
// short (an IP, host:port); longer ones are cut at 512 bytes each, which JS
// would not do, so callers keep them short (addresses are validated host:port).
inline uint64_t rendezvous_weight(const std::string& key, const std::string& address) {
  uint8_t buf[1025];
  size_t k = std::min<size_t>(key.size(), 512), a = std::min<size_t>(address.size(), 512);
  memcpy(buf, key.data(), k);
  buf[k] = 0;
  memcpy(buf + k + 1, address.data(), a);
  uint8_t d[20];
  sha1(buf, k + 1 + a, d);
  uint64_t w = 0;
  for (int i = 0; i < 8; i++) w = (w << 8) | d[i];
  return w;
}

// A target's weighted rendezvous score, as balancer.ts's weightedScore():
// weight / -ln(u), u in (0, 1) from the hash's top 52 bits (exact in a double).
inline double weighted_score(uint64_t h, uint32_t weight) {
  const double u = (static_cast<double>(h >> 12) + 0.5) / 4503599627370496.0;  // 2^52
  return static_cast<double>(weight) / -std::log(u);
}

// What a snapshot precomputes for balancing (see balancer.ts's BalanceTable):
// weights 1-256 parallel to the targets, and the smooth weighted round-robin
// sequence of target indices (each weight/gcd times, interleaved), computed
// once in TypeScript and handed over with the snapshot.
struct Weights {
  const uint32_t* w;       // n weights
  const uint16_t* sched;   // slen indices, each < n
  uint32_t slen;
  bool uniform;            // every weight the same
};

// Fills order[0..n) with the indices 0..n-1 of the usable targets in the
// order to try them. `start` is the round-robin position (or the random
// pick); `active(i)` the open connections of target i (least-conn); `key` the
// client address and `address(i)` target i's address (sharding). Stable like
// JS's Array.prototype.sort, so ties keep the rotated order.
template <typename Active, typename Address>
inline void balance_order(int mode, uint32_t n, uint64_t start, const std::string& key, Active active, Address address, const Weights& wt, uint32_t* order) {
  if (n == 0) return;
  if (n > 256) n = 256;  // callers cap n at 256 targets per snapshot
  uint32_t first = static_cast<uint32_t>(start % n);
  if ((mode == kRoundRobin || mode == kRandom) && wt.slen > 0) first = wt.sched[start % wt.slen] % n;
  if (mode == kLeastConn) first = static_cast<uint32_t>(start % n);
  for (uint32_t i = 0; i < n; i++) order[i] = (first + i) % n;
  if (mode == kLeastConn) {
    // The lowest (active + 1) / weight first, compared as cross products (no division).
    uint64_t load[256];
    for (uint32_t i = 0; i < n; i++) {
      const int64_t a = active(i);
      load[i] = a > 0 ? static_cast<uint64_t>(a) + 1 : 1;
    }
    std::stable_sort(order, order + n, [&](uint32_t a, uint32_t b) { return load[a] * wt.w[b] < load[b] * wt.w[a]; });
  } else if (mode == kSharding) {
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    uint64_t h[256];
    for (uint32_t i = 0; i < n; i++) h[i] = rendezvous_weight(key, address(i));
    if (wt.uniform) {
      std::stable_sort(order, order + n, [&](uint32_t a, uint32_t b) { return h[a] > h[b]; });
    } else {
      double score[256];
      for (uint32_t i = 0; i < n; i++) score[i] = weighted_score(h[i], wt.w[i]);
      std::stable_sort(order, order + n, [&](uint32_t a, uint32_t b) { return score[a] > score[b]; });
    }
  }
}

}  // namespace pxc

#endif
