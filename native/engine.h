// The native data plane of the app proxies: worker threads with an epoll
// loop each, accepting, balancing, connecting and relaying. Policy lives in
// TypeScript (src/forward/); this file only carries out what it publishes.
//
// Threads and ownership
//   - The JS thread creates and drops apps, targets, tables and listeners
//     (addon.cc). Workers never allocate or free those; they take references.
//   - App, Target and Table are reference counted (intrusive, atomic). A
//     connection holds its App and Target until it closes, so a forgotten
//     target or a retired app lives exactly as long as its last connection.
//   - An App's current Table is an atomic pointer, swapped by the JS thread.
//     A worker loads it and takes a reference within one loop iteration; the
//     JS thread frees the Table it replaced only once every worker has
//     started a new iteration or is idle in epoll_wait (quiescent-state
//     reclamation, `Engine::retire`/`reclaim`). The same protects a
//     listener's App pointer and a closed listener itself.
//   - Counters live in blocks the JS side reads as ArrayBuffers: one shared
//     atomic slot (active connections) plus one stripe per worker that only
//     that worker writes (no contention, no lock; JS sums the stripes).
#ifndef PXC_ENGINE_H
#define PXC_ENGINE_H

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "balance.h"
#include "foo_scanner.h"

namespace pxc {

// Counter fields: the same indices as APP / TARGET in src/forward/engine/types.ts.
enum AppField { A_ACTIVE = 0, A_TOTAL, A_REJECTED_MAX, A_REJECTED_FD, A_NO_TARGET, A_CONNECT_FAILURES, A_BYTES_IN, A_BYTES_OUT, A_MSG_REQ, A_MSG_ACK, A_MSG_NAK, A_MSG_INVALID, A_ACCEPTED, A_FIELDS };
enum TargetField { T_ACTIVE = 0, T_TOTAL, T_BYTES_IN, T_BYTES_OUT, T_CONNECT_FAILURES, T_FIELDS };

// Block layout, in uint64 slots: [0, kShared) shared atomics (slot 0: active,
// signed), then one stripe of `stride` slots per worker. 8 slots = 64 bytes,
// so no two writers share a cache line.
constexpr uint32_t kShared = 8;
constexpr uint32_t kAppStride = 16;
constexpr uint32_t kTargetStride = 8;
static_assert(A_FIELDS <= kAppStride && T_FIELDS <= kTargetStride, "a stripe holds every field");

// Limits: fixed so that every buffer below is bounded.
constexpr uint32_t kMaxTargets = 256;   // usable targets in one snapshot (more are ignored)
constexpr uint32_t kMaxAttempts = 32;   // connect attempts per client connection
constexpr size_t kScratch = 16 * 1024;  // one read in read/write mode (HAProxy's bufsize); a full one switches to splice
constexpr size_t kSpliceMin = 16 * 1024;  // a splice that moved less returns the direction to read/write
constexpr uint32_t kPipePool = 8;       // idle pipes kept per worker (a pipe's size counts against the user's pipe quota)
constexpr int kPipeSize = 1024 * 1024;  // splice pipes are enlarged to this when the quota allows (fewer splices per MB)
constexpr int kAcceptBatch = 64;        // accepts per listener event (level-triggered: the rest come next turn)

class Counters {
 public:
  Counters(uint32_t workers, uint32_t stride);
  ~Counters();
  Counters(const Counters&) = delete;
  Counters& operator=(const Counters&) = delete;
  uint64_t* data() { return mem_; }
  size_t bytes() const { return n_ * sizeof(uint64_t); }
  // Only worker `w` writes its stripe: a relaxed load + store is enough (JS may read a value one event old).
  void add(uint32_t w, uint32_t field, uint64_t v) {
    uint64_t* p = &mem_[kShared + w * stride_ + field];
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
  }
  uint64_t sum(uint32_t field) const;
  // The shared active gauge: updated from any worker.
  int64_t active_add(int64_t d) { return __atomic_add_fetch(reinterpret_cast<int64_t*>(mem_), d, __ATOMIC_SEQ_CST); }
  int64_t active() const { return __atomic_load_n(reinterpret_cast<const int64_t*>(mem_), __ATOMIC_SEQ_CST); }

 private:
  uint64_t* mem_;
  size_t n_;
  uint32_t stride_;
  uint32_t workers_;
};

// Intrusive reference count: the last release deletes.
template <typename T>
struct RefCounted {
  std::atomic<int32_t> refs{1};
  void ref() { refs.fetch_add(1, std::memory_order_relaxed); }
  void unref() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete static_cast<T*>(this);
  }
};

struct Target : RefCounted<Target> {
  uint32_t id = 0;
  uint32_t app_id = 0;
  std::string address;  // as the app names it: the sharding key
  sockaddr_storage sa{};
  socklen_t salen = 0;
  std::shared_ptr<Counters> c;
  // Report TARGET_IDLE when active reaches 0 (set by JS for a target it forgot).
  std::atomic<bool> watched{false};
};

struct AppOptions {
  bool foo = false;
  int balance = 0;
  uint32_t connect_timeout_ms = 3000;
  uint32_t idle_ms = 3600000;
  uint32_t half_closed_ms = 30000;
  int64_t max_connections = 10000;
  bool foo_close_on_invalid = false;
  uint32_t foo_max_line = 65536;
};

// An immutable snapshot: options and usable targets in the app's order, with
// their weights and the round-robin sequence over them (see balance.h).
struct Table : RefCounted<Table> {
  AppOptions o;
  std::vector<Target*> targets;  // each holds a reference, released in ~Table
  std::vector<uint32_t> weights;    // parallel to targets, 1-256
  std::vector<uint16_t> schedule;   // indices into targets
  bool uniform = true;
  Weights balance_weights() const { return Weights{weights.data(), schedule.data(), static_cast<uint32_t>(schedule.size()), uniform}; }
  ~Table() {
    for (Target* t : targets) t->unref();
  }
};

struct App : RefCounted<App> {
  uint32_t id = 0;
  std::shared_ptr<Counters> c;
  std::atomic<Table*> table{nullptr};  // owns one reference; swapped by JS, reclaimed by QSBR
  std::atomic<uint64_t> rr{0};         // round-robin / least-conn rotation, shared by workers
  std::atomic<bool> retired{false};
  std::atomic<bool> idle_sent{false};  // APP_IDLE reported (once)
  ~App() {
    Table* t = table.load();
    if (t) t->unref();
  }
};

// Engine -> JS events (batched; see Engine::post).
enum EventKind { EV_CONNECT_FAILED = 1, EV_TARGET_IDLE = 2, EV_APP_IDLE = 3 };
struct Event {
  int kind;
  uint32_t app_id;
  uint32_t target_id;
  int err;  // errno of a failed connect; 0 = timed out
  uint64_t target_total;
};

// A listening socket shared by every worker (EPOLLEXCLUSIVE: one wakes per connection).
struct Listener {
  uint8_t kind = 2;  // first byte: the epoll tag (H_LISTENER, see engine.cc)
  uint32_t id = 0;
  int fd = -1;
  std::atomic<App*> app{nullptr};  // owns one reference; swapped by JS, old one reclaimed by QSBR
};

class Worker;
struct Conn;

class Engine {
 public:
  using EventSink = std::function<void()>;  // wakes the JS thread (thread-safe function)
  explicit Engine(uint32_t workers);
  ~Engine();
  uint32_t workers() const { return static_cast<uint32_t>(workers_.size()); }
  bool start(EventSink wake);
  void stop();  // joins the workers; every connection closed

  // JS thread: listeners.
  int add_listener(Listener* l);  // registers with every worker; returns 0 or errno
  void remove_listener(Listener* l);  // unregisters; closes and frees it after a grace period

  // JS thread: commands to the workers.
  void close_app_connections(App* app);  // app == nullptr: every connection
  struct ConnRow {
    std::string client, target;
    int state;  // 0 connecting, 1 open, 2 half-closed
    uint64_t age_ms, bytes_in, bytes_out;
  };
  void list_connections(App* app, size_t limit, std::vector<ConnRow>* out);

  // Quiescent-state reclamation (JS thread only).
  void retire(std::function<void()> free_fn);
  void reclaim();

  // Workers: events for JS.
  void post(const Event& e);
  void drain(std::vector<Event>* out);

  std::atomic<uint64_t> epoch{1};

 private:
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex events_mu_;
  std::vector<Event> events_;
  EventSink wake_;
  struct Retired {
    uint64_t epoch;
    std::function<void()> free_fn;
  };
  std::vector<Retired> retired_;
  bool started_ = false;
};

}  // namespace pxc

#endif
