// Worker threads of the native engine: accept, balance, connect, relay.
// See engine.h for the threading and ownership rules.
#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "balance.h"

namespace pxc {

// ---- counters ----------------------------------------------------------------

Counters::Counters(uint32_t workers, uint32_t stride) : stride_(stride), workers_(workers) {
  n_ = kShared + static_cast<size_t>(workers) * stride;
  // 64-byte aligned so the shared slot and each stripe start on their own cache line.
  mem_ = static_cast<uint64_t*>(aligned_alloc(64, ((n_ * sizeof(uint64_t) + 63) / 64) * 64));
  if (mem_ == nullptr) abort();  // out of memory at setup: nothing sensible to continue with
  memset(mem_, 0, n_ * sizeof(uint64_t));
}

Counters::~Counters() { free(mem_); }

uint64_t Counters::sum(uint32_t field) const {
  uint64_t s = 0;
  for (uint32_t w = 0; w < workers_; w++) s += __atomic_load_n(&mem_[kShared + w * stride_ + field], __ATOMIC_RELAXED);
  return s;
}

static uint64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// ---- connections -----------------------------------------------------------

// What an epoll event points at. The first byte of Listener and Handle is the kind.
enum HandleKind : uint8_t { H_CLIENT = 0, H_SERVER = 1, H_LISTENER = 2, H_WAKE = 3 };
struct Handle {
  uint8_t kind;
  Conn* conn;
};

struct Pipe {
  int r = -1, w = -1;
  uint32_t cap = 0;
};

// One direction of a relayed connection. Invariant: bytes read from src are
// either written to dst, sitting in `pipe` (inpipe of them, splice mode) or
// in `pend` (what dst did not take of one read, read/write mode, at most
// kScratch); a direction is drained when both are empty.
struct Dir {
  Pipe pipe;
  uint32_t inpipe = 0;
  uint8_t* pend = nullptr;  // malloc'd only while dst is full
  uint32_t pend_off = 0, pend_len = 0;
  bool eof = false;          // src sent its FIN
  bool shut = false;         // FIN relayed: shutdown(dst, SHUT_WR) done
  bool splice = false;       // bulk: splice src -> pipe -> dst; else read/write
  bool want_out = false;     // waiting for dst to become writable
  bool close_after = false;  // foo on_invalid=close: close once the prefix is flushed
  bool foo = false;          // scan every byte (foo mode): never splice
  FooScanner scan;
};

enum ConnState : uint8_t { C_CONNECTING = 0, C_RELAY = 1 };

struct Conn {
  Conn* prev = nullptr;
  Conn* next = nullptr;
  App* app = nullptr;        // referenced
  Table* table = nullptr;    // referenced while connecting (the targets to try)
  Target* target = nullptr;  // referenced once connected (atomic: list_connections reads it)
  int cfd = -1, sfd = -1;
  Handle hc{H_CLIENT, nullptr}, hs{H_SERVER, nullptr};
  uint8_t state = C_CONNECTING;
  uint8_t attempt = 0, n_order = 0;
  uint8_t order[kMaxAttempts];
  bool closing = false;
  // Client events seen while connecting (edge-triggered: they are not repeated).
  bool client_in = false, client_hup = false;
  sockaddr_in6 peer{};  // the client's address (sockaddr_in for IPv4)
  uint64_t started_ms = 0, last_ms = 0, deadline_ms = 0;
  uint64_t bytes_in = 0, bytes_out = 0;  // atomics via __atomic_*: listed from the JS thread
  uint32_t idle_ms = 0, half_closed_ms = 0, connect_timeout_ms = 0;
  Dir c2s, s2c;
};

static std::string addr_string(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

static int addr_port(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  if (sa->sa_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
  return 0;
}

// ---- the worker ------------------------------------------------------------

class Worker {
 public:
  Worker(Engine* e, uint32_t index) : eng_(e), index_(index) {}
  ~Worker() {
    for (Pipe& p : pool_) close_pipe(p);
    if (reserve_fd_ >= 0) close(reserve_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    if (ep_ >= 0) close(ep_);
    free(scratch_);
  }

  bool init() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    scratch_ = static_cast<uint8_t*>(malloc(kScratch));
    rand_ = 0x9E3779B97F4A7C15ull ^ (uint64_t(index_) << 32) ^ now_ms();
    if (ep_ < 0 || wake_fd_ < 0 || scratch_ == nullptr) return false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &wake_handle_;
    return epoll_ctl(ep_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0;
  }

  void start() { th_ = std::thread([this] { run(); }); }
  void join() {
    if (th_.joinable()) th_.join();
  }

  int add_listener(Listener* l) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = l;
    return epoll_ctl(ep_, EPOLL_CTL_ADD, l->fd, &ev) == 0 ? 0 : errno;
  }
  void remove_listener(Listener* l) { epoll_ctl(ep_, EPOLL_CTL_DEL, l->fd, nullptr); }

  // Commands from the JS thread, carried out at the worker's next iteration.
  void command(std::function<void(Worker*)> fn) {
    {
      std::lock_guard<std::mutex> g(cmd_mu_);
      cmds_.push_back(std::move(fn));
    }
    wake();
  }
  void wake() {
    uint64_t one = 1;
    ssize_t n = write(wake_fd_, &one, sizeof one);
    (void)n;  // EAGAIN: the counter is already non-zero, the worker wakes anyway
  }
  void request_stop() {
    stop_.store(true);
    wake();
  }

  void close_app(App* app) {
    for (Conn* c = head_; c != nullptr;) {
      Conn* next = c->next;
      if (app == nullptr || c->app == app) close_conn(c);
      c = next;
    }
  }

  void list(App* app, size_t limit, std::vector<Engine::ConnRow>* out) {
    std::lock_guard<std::mutex> g(list_mu_);
    const uint64_t now = now_ms();
    for (Conn* c = head_; c != nullptr && out->size() < limit; c = c->next) {
      if (c->app != app) continue;
      Engine::ConnRow row;
      const sockaddr* peer = reinterpret_cast<const sockaddr*>(&c->peer);
      row.client = addr_string(peer) + ":" + std::to_string(addr_port(peer));
      Target* t = __atomic_load_n(&c->target, __ATOMIC_ACQUIRE);
      row.target = t ? t->address : "";
      const uint8_t st = __atomic_load_n(&c->state, __ATOMIC_RELAXED);
      const bool half = __atomic_load_n(&c->c2s.eof, __ATOMIC_RELAXED) || __atomic_load_n(&c->s2c.eof, __ATOMIC_RELAXED);
      row.state = st == C_CONNECTING ? 0 : half ? 2 : 1;
      row.age_ms = now - c->started_ms;
      row.bytes_in = __atomic_load_n(&c->bytes_in, __ATOMIC_RELAXED);
      row.bytes_out = __atomic_load_n(&c->bytes_out, __ATOMIC_RELAXED);
      out->push_back(std::move(row));
    }
  }

  // QSBR: UINT64_MAX while blocked in epoll_wait (holding nothing), else the
  // epoch read at the start of the current iteration.
  std::atomic<uint64_t> quiescent{UINT64_MAX};

 private:
  void run();
  void on_listener(Listener* l);
  void on_accept(int fd, App* app, const sockaddr_storage& sa);
  void start_connect(Conn* c);
  void connect_failed(Conn* c, int err);
  void on_connected(Conn* c, uint32_t ev);
  void on_event(Handle* h, uint32_t ev);
  bool pump(Conn* c, Dir& d, int src, int dst, bool from_client, bool until_eagain);
  bool take_pipe(Dir& d);
  void give_pipe(Dir& d);
  void close_pipe(Pipe& p) {
    if (p.r >= 0) close(p.r);
    if (p.w >= 0) close(p.w);
    p = Pipe();
  }
  void close_conn(Conn* c);
  void sweep();
  void run_commands();
  void link(Conn* c) {
    std::lock_guard<std::mutex> g(list_mu_);
    c->next = head_;
    if (head_) head_->prev = c;
    head_ = c;
  }
  void unlink(Conn* c) {
    std::lock_guard<std::mutex> g(list_mu_);
    if (c->prev) c->prev->next = c->next;
    else head_ = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = nullptr;
  }
  uint64_t next_rand() {
    // xorshift64*: per worker, no lock
    rand_ ^= rand_ >> 12, rand_ ^= rand_ << 25, rand_ ^= rand_ >> 27;
    return rand_ * 2685821657736338717ull;
  }

  Engine* eng_;
  uint32_t index_;
  int ep_ = -1, wake_fd_ = -1, reserve_fd_ = -1;
  Handle wake_handle_{H_WAKE, nullptr};
  std::thread th_;
  std::atomic<bool> stop_{false};
  std::mutex cmd_mu_;
  std::vector<std::function<void(Worker*)>> cmds_;
  std::mutex list_mu_;  // guards the list links (the JS thread lists connections)
  Conn* head_ = nullptr;
  std::vector<Pipe> pool_;
  uint8_t* scratch_ = nullptr;
  uint64_t rand_ = 0;
  uint64_t now_ = 0, last_sweep_ = 0;
  // Closed connections, freed at the end of the iteration: events fetched in
  // the same epoll_wait batch may still point at them (their `closing` flag
  // makes on_event skip them).
  std::vector<Conn*> graveyard_;
  void bury() {
    for (Conn* c : graveyard_) delete c;
    graveyard_.clear();
  }
};

void Worker::run() {
  epoll_event evs[256];
  while (!stop_.load()) {
    quiescent.store(UINT64_MAX);
    // Timeouts only matter while there are connections: an idle worker sleeps until woken.
    int n = epoll_wait(ep_, evs, 256, head_ != nullptr ? 100 : -1);
    // From here to the next epoll_wait this worker may hold pointers loaded from shared atomics.
    quiescent.store(eng_->epoch.load());
    if (n < 0 && errno != EINTR) break;
    now_ = now_ms();
    for (int i = 0; i < n; i++) {
      uint8_t kind = *static_cast<uint8_t*>(evs[i].data.ptr);
      if (kind == H_LISTENER) on_listener(static_cast<Listener*>(evs[i].data.ptr));
      else if (kind == H_WAKE) {
        uint64_t v;
        ssize_t r = read(wake_fd_, &v, sizeof v);
        (void)r;
        run_commands();
      } else {
        on_event(static_cast<Handle*>(evs[i].data.ptr), evs[i].events);
      }
    }
    if (now_ - last_sweep_ >= 50) sweep();
    bury();
  }
  run_commands();
  close_app(nullptr);
  bury();
  quiescent.store(UINT64_MAX);
}

void Worker::run_commands() {
  std::vector<std::function<void(Worker*)>> cmds;
  {
    std::lock_guard<std::mutex> g(cmd_mu_);
    cmds.swap(cmds_);
  }
  for (auto& fn : cmds) fn(this);
}

void Worker::on_listener(Listener* l) {
  for (int i = 0; i < kAcceptBatch; i++) {
    sockaddr_storage sa;
    socklen_t len = sizeof sa;
    int fd = accept4(l->fd, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    App* app = l->app.load(std::memory_order_acquire);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && reserve_fd_ >= 0) {
        // Out of descriptors: spend the reserve to accept and close the client at
        // once (else the listener stays readable and spins), count it, take it back.
        close(reserve_fd_);
        int x = accept4(l->fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (x >= 0) {
          close(x);
          if (app) app->c->add(index_, A_REJECTED_FD, 1);
        }
        reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        continue;
      }
      return;  // EAGAIN (or a listener error): nothing more to accept now
    }
    if (app == nullptr) {
      close(fd);
      continue;
    }
    on_accept(fd, app, sa);
  }
}

void Worker::on_accept(int fd, App* app, const sockaddr_storage& sa) {
  Table* table = app->table.load(std::memory_order_acquire);
  if (table == nullptr || app->c->active_add(1) > table->o.max_connections) {
    if (table) app->c->active_add(-1);
    app->c->add(index_, A_REJECTED_MAX, 1);
    close(fd);
    return;
  }
  table->ref();  // safe: this iteration is not quiescent, so `table` is not freed yet
  app->ref();
  app->c->add(index_, A_ACCEPTED, 1);
  // TCP_NODELAY is inherited from the listener (set once in addon.cc).
  Conn* c = new Conn();
  c->app = app;
  c->table = table;
  c->cfd = fd;
  c->hc.conn = c->hs.conn = c;
  memcpy(&c->peer, &sa, sa.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  c->started_ms = c->last_ms = now_;
  const AppOptions& o = table->o;
  c->idle_ms = o.idle_ms;
  c->half_closed_ms = o.half_closed_ms;
  c->connect_timeout_ms = o.connect_timeout_ms;
  if (o.foo) {
    c->c2s.scan.init(true, o.foo_max_line, o.foo_close_on_invalid);
    c->s2c.scan.init(false, o.foo_max_line, false);
    c->c2s.foo = c->s2c.foo = true;
  }
  // Balance: the whole order to try, computed once (as balancer.ts does).
  const uint32_t n = static_cast<uint32_t>(table->targets.size() < kMaxTargets ? table->targets.size() : kMaxTargets);
  uint32_t order[kMaxTargets];
  if (n > 0) {
    uint64_t start = 0;
    std::string key;
    if (o.balance == kRoundRobin || o.balance == kLeastConn) start = app->rr.fetch_add(1, std::memory_order_relaxed);
    else if (o.balance == kRandom) start = next_rand();
    else key = addr_string(reinterpret_cast<const sockaddr*>(&c->peer));
    balance_order(
        o.balance, n, start, key, [&](uint32_t i) { return table->targets[i]->c->active(); }, [&](uint32_t i) -> const std::string& { return table->targets[i]->address; },
        table->balance_weights(), order);
  }
  c->n_order = static_cast<uint8_t>(n < kMaxAttempts ? n : kMaxAttempts);
  for (uint32_t i = 0; i < c->n_order; i++) c->order[i] = static_cast<uint8_t>(order[i]);
  link(c);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &c->hc;
  if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    close_conn(c);
    return;
  }
  start_connect(c);
}

// Connects to order[attempt]; on a synchronous failure tries the next one.
void Worker::start_connect(Conn* c) {
  while (c->attempt < c->n_order) {
    Target* t = c->table->targets[c->order[c->attempt]];
    int fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Our own descriptors (or memory) ran out: never the target's fault.
        c->app->c->add(index_, A_REJECTED_FD, 1);
        close_conn(c);
        return;
      }
      connect_failed(c, errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->sfd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &c->hs;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      c->app->c->add(index_, A_REJECTED_FD, 1);
      close_conn(c);
      return;
    }
    int r = connect(fd, reinterpret_cast<const sockaddr*>(&t->sa), t->salen);
    if (r == 0 || errno == EINPROGRESS) {
      c->deadline_ms = now_ + c->connect_timeout_ms;
      // Completion (or an immediate success) arrives as EPOLLOUT on sfd.
      return;
    }
    connect_failed(c, errno);
  }
  // None left: close the client at once.
  c->app->c->add(index_, A_NO_TARGET, 1);
  close_conn(c);
}

// The current attempt failed (err 0: timed out): count, report, next target.
void Worker::connect_failed(Conn* c, int err) {
  Target* t = c->table->targets[c->order[c->attempt]];
  if (c->sfd >= 0) {
    close(c->sfd);  // also leaves the epoll set
    c->sfd = -1;
  }
  c->app->c->add(index_, A_CONNECT_FAILURES, 1);
  t->c->add(index_, T_CONNECT_FAILURES, 1);
  eng_->post(Event{EV_CONNECT_FAILED, c->app->id, t->id, err, t->c->sum(T_TOTAL)});
  c->attempt++;
}

// `ev`: the server event that completed the connect (data may have come with it).
void Worker::on_connected(Conn* c, uint32_t ev) {
  Target* t = c->table->targets[c->order[c->attempt]];
  t->ref();
  __atomic_store_n(&c->target, t, __ATOMIC_RELEASE);
  c->table->unref();
  c->table = nullptr;
  __atomic_store_n(&c->state, static_cast<uint8_t>(C_RELAY), __ATOMIC_RELAXED);
  t->c->active_add(1);
  t->c->add(index_, T_TOTAL, 1);
  c->app->c->add(index_, A_TOTAL, 1);
  c->last_ms = now_;
  // Edge-triggered: what arrived while connecting signalled once and was noted; read it now.
  // Nothing signalled → nothing to read yet (the next arrival signals again).
  bool ok = true;
  if (c->client_in || c->client_hup) ok = pump(c, c->c2s, c->cfd, c->sfd, true, c->client_hup);
  if (ok && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) ok = pump(c, c->s2c, c->sfd, c->cfd, false, true);
  if (!ok || (c->c2s.shut && c->s2c.shut)) close_conn(c);
}

void Worker::on_event(Handle* h, uint32_t ev) {
  Conn* c = h->conn;
  if (c->closing) return;
  if (c->state == C_CONNECTING) {
    if (h->kind == H_CLIENT) {
      // Relayed once the target is connected; remember what it signalled.
      c->client_in |= (ev & EPOLLIN) != 0;
      c->client_hup |= (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
      return;
    }
    if (c->sfd < 0) return;
    // Invariant: an event for H_SERVER is for the current sfd. A previous
    // attempt's socket was closed while its own event was being handled (or
    // by the sweep, between batches), so no stale event of it can follow.
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) {
      if (ev & EPOLLOUT) {
        on_connected(c, ev);
        return;
      }
      if (!(ev & (EPOLLERR | EPOLLHUP))) return;  // not yet
      err = ECONNREFUSED;
    }
    connect_failed(c, err);
    start_connect(c);
    return;
  }
  // A short read may only be taken as "drained" when the event carried no
  // hang-up: data and FIN queued together signal once (edge-triggered).
  const bool hup = ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  const bool in = ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  const bool out = ev & (EPOLLOUT | EPOLLERR | EPOLLHUP);
  bool ok = true;
  if (h->kind == H_CLIENT) {
    if (in && !c->c2s.want_out) ok = pump(c, c->c2s, c->cfd, c->sfd, true, hup);
    if (ok && out && c->s2c.want_out) ok = pump(c, c->s2c, c->sfd, c->cfd, false, true);
  } else {
    if (in && !c->s2c.want_out) ok = pump(c, c->s2c, c->sfd, c->cfd, false, hup);
    if (ok && out && c->c2s.want_out) ok = pump(c, c->c2s, c->cfd, c->sfd, true, true);
  }
  if (!ok || (c->c2s.shut && c->s2c.shut)) close_conn(c);
}

bool Worker::take_pipe(Dir& d) {
  if (d.pipe.r >= 0) return true;
  if (!pool_.empty()) {
    d.pipe = pool_.back();
    pool_.pop_back();
    return true;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  d.pipe.r = fds[0];
  d.pipe.w = fds[1];
  // Bigger pipes move bulk in fewer splices; refused above pipe-max-size or the user's pipe quota: keep the default.
  fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);
  int cap = fcntl(fds[1], F_GETPIPE_SZ);
  d.pipe.cap = cap > 0 ? static_cast<uint32_t>(cap) : 65536;
  return true;
}

// Invariant: only an empty pipe goes back to the pool.
void Worker::give_pipe(Dir& d) {
  if (d.pipe.r < 0) return;
  if (d.inpipe == 0 && pool_.size() < kPipePool) pool_.push_back(d.pipe);
  else close_pipe(d.pipe);
  d.pipe = Pipe();
  d.inpipe = 0;
}

// Moves what src has to dst: flush the pipe first, then read (or splice)
// until src is drained, dst is full (wait for EPOLLOUT: want_out), or src
// ended (relay the FIN once the pipe is empty). Returns false when the
// connection must close (an error, a foo verdict, an exhausted resource).
bool Worker::pump(Conn* c, Dir& d, int src, int dst, bool from_client, bool until_eagain) {
  const uint32_t f_app = from_client ? A_BYTES_IN : A_BYTES_OUT;
  const uint32_t f_target = from_client ? T_BYTES_IN : T_BYTES_OUT;
  uint64_t* conn_bytes = from_client ? &c->bytes_in : &c->bytes_out;
  const bool foo = d.foo;
  for (;;) {
    if (d.inpipe > 0) {
      ssize_t n = splice(d.pipe.r, nullptr, dst, nullptr, d.inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.inpipe -= static_cast<uint32_t>(n);
        c->last_ms = now_;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        d.want_out = true;
        return true;
      }
      return false;  // dst reset or closed
    }
    if (d.pend_off < d.pend_len) {
      ssize_t n = send(dst, d.pend + d.pend_off, d.pend_len - d.pend_off, MSG_NOSIGNAL);
      if (n > 0) {
        d.pend_off += static_cast<uint32_t>(n);
        c->last_ms = now_;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        d.want_out = true;
        return true;
      }
      return false;
    }
    if (d.pend != nullptr) {
      free(d.pend);
      d.pend = nullptr;
      d.pend_off = d.pend_len = 0;
    }
    d.want_out = false;
    if (!d.splice) give_pipe(d);
    if (d.close_after) return false;
    if (d.eof) {
      if (!d.shut) {
        shutdown(dst, SHUT_WR);
        d.shut = true;
      }
      return true;
    }
    if (d.splice) {
      if (!take_pipe(d)) {
        d.splice = false;  // no descriptor for a pipe: read/write needs none
        continue;
      }
      ssize_t n = splice(src, nullptr, d.pipe.w, nullptr, d.pipe.cap, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.inpipe = static_cast<uint32_t>(n);
        c->app->c->add(index_, f_app, static_cast<uint64_t>(n));
        c->target->c->add(index_, f_target, static_cast<uint64_t>(n));
        __atomic_store_n(conn_bytes, *conn_bytes + static_cast<uint64_t>(n), __ATOMIC_RELAXED);
        c->last_ms = now_;
        if (static_cast<size_t>(n) < kSpliceMin) d.splice = false;  // small messages again: read/write
        continue;
      }
      if (n == 0) {
        __atomic_store_n(&d.eof, true, __ATOMIC_RELAXED);
        continue;
      }
      if (errno == EINTR) continue;
      // The pipe is empty here (flushed above), so EAGAIN means src is empty.
      if (errno == EAGAIN) {
        give_pipe(d);
        return true;
      }
      return false;
    }
    ssize_t n = recv(src, scratch_, kScratch, 0);
    if (n > 0) {
      c->app->c->add(index_, f_app, static_cast<uint64_t>(n));
      c->target->c->add(index_, f_target, static_cast<uint64_t>(n));
      __atomic_store_n(conn_bytes, *conn_bytes + static_cast<uint64_t>(n), __ATOMIC_RELAXED);
      c->last_ms = now_;
      size_t len = static_cast<size_t>(n);
      if (foo) {
        FooCounts fc;
        long verdict = d.scan.scan(scratch_, len, &fc);
        if (fc.req | fc.ack | fc.nak | fc.invalid) {
          c->app->c->add(index_, A_MSG_REQ, fc.req);
          c->app->c->add(index_, A_MSG_ACK, fc.ack);
          c->app->c->add(index_, A_MSG_NAK, fc.nak);
          c->app->c->add(index_, A_MSG_INVALID, fc.invalid);
        }
        if (verdict == kScanTooLong) return false;
        if (verdict >= 0) {
          // on_invalid=close: forward the lines before the bad one, then close.
          len = static_cast<size_t>(verdict);
          d.close_after = true;
        }
      }
      size_t done = 0;
      while (done < len) {
        ssize_t w = send(dst, scratch_ + done, len - done, MSG_NOSIGNAL);
        if (w > 0) {
          done += static_cast<size_t>(w);
          continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) break;
        return false;
      }
      if (done < len) {
        // dst is full: keep the rest (at most kScratch) until it drains.
        d.pend = static_cast<uint8_t*>(malloc(len - done));
        if (d.pend == nullptr) return false;
        memcpy(d.pend, scratch_ + done, len - done);
        d.pend_off = 0;
        d.pend_len = static_cast<uint32_t>(len - done);
        d.want_out = true;
        return true;
      }
      if (d.close_after) return false;
      if (len == kScratch && !foo) d.splice = true;  // a full read: bulk, splice from now on
      if (static_cast<size_t>(n) < kScratch && !until_eagain) return true;  // drained (see on_event)
      continue;
    }
    if (n == 0) {
      __atomic_store_n(&d.eof, true, __ATOMIC_RELAXED);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return true;
    return false;
  }
}

void Worker::close_conn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  unlink(c);
  // close() also removes the fds from the epoll set; events already fetched
  // this iteration for `c` are skipped by the `closing` check... but `c` is
  // freed below, so on_event must never see it: the rest of this batch may
  // still name it. Defer the free to the end of the iteration.
  if (c->cfd >= 0) close(c->cfd);
  if (c->sfd >= 0) close(c->sfd);
  c->cfd = c->sfd = -1;
  give_pipe(c->c2s);
  give_pipe(c->s2c);
  free(c->c2s.pend);
  free(c->s2c.pend);
  c->c2s.pend = c->s2c.pend = nullptr;
  App* app = c->app;
  if (c->table) c->table->unref();
  c->table = nullptr;
  if (c->target) {
    Target* t = c->target;
    if (t->c->active_add(-1) == 0 && t->watched.load() && t->watched.exchange(false)) eng_->post(Event{EV_TARGET_IDLE, t->app_id, t->id, 0, 0});
    t->unref();
  }
  if (app->c->active_add(-1) == 0 && app->retired.load() && !app->idle_sent.exchange(true)) eng_->post(Event{EV_APP_IDLE, app->id, 0, 0, 0});
  app->unref();
  graveyard_.push_back(c);
}

void Worker::sweep() {
  last_sweep_ = now_;
  for (Conn* c = head_; c != nullptr;) {
    Conn* next = c->next;
    if (c->state == C_CONNECTING) {
      if (c->sfd >= 0 && now_ >= c->deadline_ms) {
        connect_failed(c, 0);
        start_connect(c);
      }
    } else {
      const uint64_t quiet = now_ - c->last_ms;
      const bool half = c->c2s.eof || c->s2c.eof;
      if (quiet >= c->idle_ms || (half && quiet >= c->half_closed_ms)) close_conn(c);
    }
    c = next;
  }
}

}  // namespace pxc

namespace pxc {

// ---- the engine ------------------------------------------------------------

Engine::Engine(uint32_t workers) {
  for (uint32_t i = 0; i < workers; i++) workers_.emplace_back(new Worker(this, i));
}

Engine::~Engine() {
  stop();
  for (Retired& r : retired_) r.free_fn();
  retired_.clear();
}

bool Engine::start(EventSink wake) {
  wake_ = std::move(wake);
  for (auto& w : workers_)
    if (!w->init()) return false;
  for (auto& w : workers_) w->start();
  started_ = true;
  return true;
}

void Engine::stop() {
  if (!started_) return;
  started_ = false;
  for (auto& w : workers_) w->request_stop();
  for (auto& w : workers_) w->join();
}

int Engine::add_listener(Listener* l) {
  for (size_t i = 0; i < workers_.size(); i++) {
    int err = workers_[i]->add_listener(l);
    if (err != 0) {
      for (size_t j = 0; j < i; j++) workers_[j]->remove_listener(l);
      return err;
    }
  }
  return 0;
}

void Engine::remove_listener(Listener* l) {
  for (auto& w : workers_) w->remove_listener(l);
  // A worker may be inside on_listener(l) right now: close and free after a grace period.
  retire([l] {
    close(l->fd);
    App* app = l->app.exchange(nullptr);
    if (app) app->unref();
    delete l;
  });
}

void Engine::close_app_connections(App* app) {
  if (app) app->ref();  // the commands run later; keep the pointer valid (compared, never dereferenced)
  std::shared_ptr<std::atomic<int>> left = std::make_shared<std::atomic<int>>(static_cast<int>(workers_.size()));
  for (auto& w : workers_)
    w->command([app, left](Worker* self) {
      self->close_app(app);
      if (left->fetch_sub(1) == 1 && app) app->unref();
    });
}

void Engine::list_connections(App* app, size_t limit, std::vector<ConnRow>* out) {
  for (auto& w : workers_) w->list(app, limit, out);
}

void Engine::retire(std::function<void()> free_fn) {
  const uint64_t e = epoch.fetch_add(1) + 1;
  retired_.push_back(Retired{e, std::move(free_fn)});
  reclaim();
}

void Engine::reclaim() {
  if (retired_.empty()) return;
  uint64_t min = UINT64_MAX;
  for (auto& w : workers_) {
    uint64_t q = w->quiescent.load();
    if (q < min) min = q;
  }
  // Every worker is idle or started an iteration at or after epoch `min`:
  // what was retired at or before `min` is no longer reachable.
  size_t kept = 0;
  for (size_t i = 0; i < retired_.size(); i++) {
    if (!started_ || retired_[i].epoch <= min) retired_[i].free_fn();
    else retired_[kept++] = std::move(retired_[i]);
  }
  retired_.resize(kept);
}

void Engine::post(const Event& e) {
  bool first;
  {
    std::lock_guard<std::mutex> g(events_mu_);
    first = events_.empty();
    events_.push_back(e);
  }
  // One wake-up per batch: the JS side drains everything queued by then.
  if (first && wake_) wake_();
}

void Engine::drain(std::vector<Event>* out) {
  std::lock_guard<std::mutex> g(events_mu_);
  out->swap(events_);
}

}  // namespace pxc
