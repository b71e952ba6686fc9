// The N-API face of the native engine (node-addon-api, C++ exceptions off:
// every error is a return value or a JS exception set by hand, never a C++
// throw). Only the JS thread runs this file. src/forward/engine/native-engine.ts
// is its one caller; src/forward/engine/native-addon.ts types it.
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <napi.h>
#include <sys/resource.h>
#include <unistd.h>

#include <unordered_map>

#include "balance.h"
#include "engine.h"
#include "foo_scanner.h"

namespace pxc {
namespace {

// A counter block as an ArrayBuffer over the engine's memory: the buffer
// keeps the block alive (a shared_ptr copy released by the finalizer), and so
// does the engine, so neither side can outlive the memory it reads.
Napi::ArrayBuffer counter_buffer(Napi::Env env, const std::shared_ptr<Counters>& c) {
  auto* hold = new std::shared_ptr<Counters>(c);
  return Napi::ArrayBuffer::New(env, c->data(), c->bytes(), [](Napi::Env, void*, std::shared_ptr<Counters>* h) { delete h; }, hold);
}

bool parse_ip(const std::string& ip, int port, sockaddr_storage* sa, socklen_t* len) {
  memset(sa, 0, sizeof *sa);
  auto* v4 = reinterpret_cast<sockaddr_in*>(sa);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(sa);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *v4;
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof *v6;
    return true;
  }
  return false;
}

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod("createApp", &EngineWrap::CreateApp),
                           InstanceMethod("createTarget", &EngineWrap::CreateTarget),
                           InstanceMethod("publish", &EngineWrap::Publish),
                           InstanceMethod("watchTarget", &EngineWrap::WatchTarget),
                           InstanceMethod("releaseTarget", &EngineWrap::ReleaseTarget),
                           InstanceMethod("retireApp", &EngineWrap::RetireApp),
                           InstanceMethod("dropApp", &EngineWrap::DropApp),
                           InstanceMethod("closeConnections", &EngineWrap::CloseConnections),
                           InstanceMethod("listConnections", &EngineWrap::ListConnections),
                           InstanceMethod("listen", &EngineWrap::Listen),
                           InstanceMethod("setListenerApp", &EngineWrap::SetListenerApp),
                           InstanceMethod("unlisten", &EngineWrap::Unlisten),
                           InstanceMethod("reclaim", &EngineWrap::Reclaim),
                           InstanceMethod("close", &EngineWrap::Close),
                       });
  }

  // new Engine(threads, onEvents(Float64Array of [kind, app, target, errno, total] × n))
  EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "new Engine(threads, onEvents)").ThrowAsJavaScriptException();
      return;
    }
    uint32_t threads = info[0].As<Napi::Number>().Uint32Value();
    if (threads < 1 || threads > 64) threads = 1;
    threads_ = threads;
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "proxyctl-engine-events", 0, 1);
    tsfn_.Unref(env);  // events never keep the process alive
    engine_.reset(new Engine(threads));
    EngineWrap* self = this;
    Napi::ThreadSafeFunction tsfn = tsfn_;
    bool ok = engine_->start([tsfn, self]() mutable {
      // Called from a worker: hand the JS thread a call that drains the whole queue.
      tsfn.NonBlockingCall(self, [](Napi::Env env, Napi::Function cb, EngineWrap* w) { w->Deliver(env, cb); });
    });
    if (!ok) {
      engine_.reset();
      Napi::Error::New(env, "engine: cannot create epoll or eventfd descriptors").ThrowAsJavaScriptException();
    }
  }

  ~EngineWrap() { Shutdown(); }

 private:
  void Deliver(Napi::Env env, Napi::Function cb) {
    if (!engine_) return;
    std::vector<Event> evs;
    engine_->drain(&evs);
    if (evs.empty()) return;
    Napi::Float64Array a = Napi::Float64Array::New(env, evs.size() * 5);
    for (size_t i = 0; i < evs.size(); i++) {
      a[i * 5] = evs[i].kind;
      a[i * 5 + 1] = evs[i].app_id;
      a[i * 5 + 2] = evs[i].target_id;
      a[i * 5 + 3] = evs[i].err;
      a[i * 5 + 4] = static_cast<double>(evs[i].target_total);
    }
    cb.Call({a});
  }

  bool Alive(const Napi::CallbackInfo& info) {
    if (engine_) return true;
    Napi::Error::New(info.Env(), "engine closed").ThrowAsJavaScriptException();
    return false;
  }

  App* AppArg(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || !info[i].IsNumber()) return nullptr;
    auto it = apps_.find(info[i].As<Napi::Number>().Uint32Value());
    return it == apps_.end() ? nullptr : it->second;
  }
  Target* TargetArg(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || !info[i].IsNumber()) return nullptr;
    auto it = targets_.find(info[i].As<Napi::Number>().Uint32Value());
    return it == targets_.end() ? nullptr : it->second;
  }
  Napi::Value Bad(const Napi::CallbackInfo& info, const char* usage) {
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  // createApp() -> [id, counters ArrayBuffer]
  Napi::Value CreateApp(const Napi::CallbackInfo& info) {
    if (!Alive(info)) return info.Env().Undefined();
    App* app = new App();
    app->id = next_id_++;
    app->c = std::make_shared<Counters>(threads_, kAppStride);
    apps_[app->id] = app;
    Napi::Array r = Napi::Array::New(info.Env(), 2);
    r[0u] = Napi::Number::New(info.Env(), app->id);
    r[1u] = counter_buffer(info.Env(), app->c);
    return r;
  }

  // createTarget(appId, address, ip, port) -> [id, counters ArrayBuffer]
  Napi::Value CreateTarget(const Napi::CallbackInfo& info) {
    if (!Alive(info)) return info.Env().Undefined();
    App* app = AppArg(info, 0);
    if (!app || info.Length() < 4 || !info[1].IsString() || !info[2].IsString() || !info[3].IsNumber()) return Bad(info, "createTarget(appId, address, ip, port)");
    Target* t = new Target();
    if (!parse_ip(info[2].As<Napi::String>().Utf8Value(), info[3].As<Napi::Number>().Int32Value(), &t->sa, &t->salen)) {
      delete t;
      return Bad(info, "createTarget: ip must be an IPv4 or IPv6 address");
    }
    t->id = next_id_++;
    t->app_id = app->id;
    t->address = info[1].As<Napi::String>().Utf8Value();
    t->c = std::make_shared<Counters>(threads_, kTargetStride);
    targets_[t->id] = t;
    Napi::Array r = Napi::Array::New(info.Env(), 2);
    r[0u] = Napi::Number::New(info.Env(), t->id);
    r[1u] = counter_buffer(info.Env(), t->c);
    return r;
  }

  // publish(appId, Float64Array options[8], Uint32Array targetIds, Uint32Array weights, Uint16Array schedule)
  Napi::Value Publish(const Napi::CallbackInfo& info) {
    if (!Alive(info)) return info.Env().Undefined();
    App* app = AppArg(info, 0);
    if (!app || info.Length() < 5 || !info[1].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsTypedArray() || !info[4].IsTypedArray())
      return Bad(info, "publish(appId, options, targetIds, weights, schedule)");
    Napi::Float64Array o = info[1].As<Napi::Float64Array>();
    Napi::Uint32Array ids = info[2].As<Napi::Uint32Array>();
    Napi::Uint32Array weights = info[3].As<Napi::Uint32Array>();
    Napi::Uint16Array schedule = info[4].As<Napi::Uint16Array>();
    if (o.ElementLength() < 8) return Bad(info, "publish: options has 8 numbers");
    if (weights.ElementLength() != ids.ElementLength()) return Bad(info, "publish: one weight per target");
    Table* t = new Table();
    t->o.foo = o[0] != 0;
    t->o.balance = static_cast<int>(o[1]);
    t->o.connect_timeout_ms = static_cast<uint32_t>(o[2]);
    t->o.idle_ms = static_cast<uint32_t>(o[3]);
    t->o.half_closed_ms = static_cast<uint32_t>(o[4]);
    t->o.max_connections = static_cast<int64_t>(o[5]);
    t->o.foo_close_on_invalid = o[6] != 0;
    t->o.foo_max_line = static_cast<uint32_t>(o[7]);
    // An id JS no longer knows (or one past kMaxTargets) is left out; the
    // schedule's indices are remapped so each still names the same target.
    std::vector<int32_t> remap(ids.ElementLength(), -1);
    for (size_t i = 0; i < ids.ElementLength() && t->targets.size() < kMaxTargets; i++) {
      auto it = targets_.find(ids[i]);
      if (it == targets_.end()) continue;
      it->second->ref();
      remap[i] = static_cast<int32_t>(t->targets.size());
      t->targets.push_back(it->second);
      const uint32_t w = weights[i];
      t->weights.push_back(w < 1 ? 1 : w > 256 ? 256 : w);
    }
    for (size_t i = 1; i < t->weights.size(); i++)
      if (t->weights[i] != t->weights[0]) t->uniform = false;
    for (size_t k = 0; k < schedule.ElementLength(); k++) {
      const uint16_t x = schedule[k];
      if (x < remap.size() && remap[x] >= 0) t->schedule.push_back(static_cast<uint16_t>(remap[x]));
    }
    if (t->schedule.empty())
      for (size_t i = 0; i < t->targets.size(); i++) t->schedule.push_back(static_cast<uint16_t>(i));
    Table* old = app->table.exchange(t, std::memory_order_acq_rel);
    if (old) engine_->retire([old] { old->unref(); });
    return info.Env().Undefined();
  }

  // watchTarget(id) -> true when the target is idle now (no event will follow)
  Napi::Value WatchTarget(const Napi::CallbackInfo& info) {
    Target* t = TargetArg(info, 0);
    if (!t) return Bad(info, "watchTarget(targetId)");
    t->watched.store(true);
    // A worker that closed the last connection before it saw `watched` did not report: do it here.
    bool idle = t->c->active() == 0 && t->watched.exchange(false);
    return Napi::Boolean::New(info.Env(), idle);
  }

  Napi::Value ReleaseTarget(const Napi::CallbackInfo& info) {
    Target* t = TargetArg(info, 0);
    if (!t) return info.Env().Undefined();
    targets_.erase(t->id);
    if (engine_) engine_->retire([t] { t->unref(); });
    else t->unref();
    return info.Env().Undefined();
  }

  // retireApp(id) -> true when the app is idle now (no event will follow)
  Napi::Value RetireApp(const Napi::CallbackInfo& info) {
    App* app = AppArg(info, 0);
    if (!app) return Napi::Boolean::New(info.Env(), false);  // dropped: already reported idle
    app->retired.store(true);
    bool idle = app->c->active() == 0 && !app->idle_sent.exchange(true);
    return Napi::Boolean::New(info.Env(), idle);
  }

  Napi::Value DropApp(const Napi::CallbackInfo& info) {
    App* app = AppArg(info, 0);
    if (!app) return info.Env().Undefined();
    apps_.erase(app->id);
    if (engine_) engine_->retire([app] { app->unref(); });
    else app->unref();
    return info.Env().Undefined();
  }

  Napi::Value CloseConnections(const Napi::CallbackInfo& info) {
    if (!engine_) return info.Env().Undefined();
    App* app = AppArg(info, 0);
    if (!app) return info.Env().Undefined();  // dropped: it had no connection left
    engine_->close_app_connections(app);
    return info.Env().Undefined();
  }

  // listConnections(appId, limit) -> [{client, target, state, age_ms, bytes_in, bytes_out}]
  Napi::Value ListConnections(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    App* app = AppArg(info, 0);
    if (!app || !engine_) return Napi::Array::New(env, 0);
    size_t limit = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 1000;
    std::vector<Engine::ConnRow> rows;
    engine_->list_connections(app, limit, &rows);
    Napi::Array out = Napi::Array::New(env, rows.size());
    static const char* states[] = {"connecting", "open", "half-closed"};
    for (size_t i = 0; i < rows.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("client", rows[i].client);
      o.Set("target", rows[i].target);
      o.Set("state", states[rows[i].state]);
      o.Set("age_ms", static_cast<double>(rows[i].age_ms));
      o.Set("bytes_in", static_cast<double>(rows[i].bytes_in));
      o.Set("bytes_out", static_cast<double>(rows[i].bytes_out));
      out[static_cast<uint32_t>(i)] = o;
    }
    return out;
  }

  // listen(ip, port, appId, backlog) -> [listenerId, boundPort], or a negative errno.
  // Synchronous, so start and reload learn at once that a port cannot be opened.
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Alive(info)) return env.Undefined();
    App* app = AppArg(info, 2);
    if (!app || !info[0].IsString() || !info[1].IsNumber() || !info[3].IsNumber()) return Bad(info, "listen(ip, port, appId, backlog)");
    int backlog = info[3].As<Napi::Number>().Int32Value();  // the kernel caps it at somaxconn
    if (backlog < 1) backlog = 1;
    sockaddr_storage sa;
    socklen_t len;
    int port = info[1].As<Napi::Number>().Int32Value();
    if (port < 0 || port > 65535 || !parse_ip(info[0].As<Napi::String>().Utf8Value(), port, &sa, &len)) return Napi::Number::New(env, -EINVAL);
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Napi::Number::New(env, -errno);
    int one = 1;
    // SO_REUSEADDR as Node sets it (TIME_WAIT does not block a restart); no
    // SO_REUSEPORT: a second agent must get EADDRINUSE, not half the traffic.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Accepted sockets inherit it: no setsockopt per connection (Nagle + delayed ACK stall lock-step protocols).
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (sa.ss_family == AF_INET6) {
      int zero = 0;  // "::" takes IPv4 too, as Node does
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 || listen(fd, backlog) != 0) {
      int err = errno;
      close(fd);
      return Napi::Number::New(env, -err);
    }
    sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
    int bound_port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    Listener* l = new Listener();
    l->id = next_id_++;
    l->fd = fd;
    app->ref();
    l->app.store(app);
    int err = engine_->add_listener(l);
    if (err != 0) {
      close(fd);
      app->unref();
      delete l;
      return Napi::Number::New(env, -err);
    }
    listeners_[l->id] = l;
    Napi::Array r = Napi::Array::New(env, 2);
    r[0u] = Napi::Number::New(env, l->id);
    r[1u] = Napi::Number::New(env, bound_port);
    return r;
  }

  Napi::Value SetListenerApp(const Napi::CallbackInfo& info) {
    if (!Alive(info)) return info.Env().Undefined();
    App* app = AppArg(info, 1);
    if (!app || !info[0].IsNumber()) return Bad(info, "setListenerApp(listenerId, appId)");
    auto it = listeners_.find(info[0].As<Napi::Number>().Uint32Value());
    if (it == listeners_.end()) return info.Env().Undefined();
    app->ref();
    App* old = it->second->app.exchange(app);
    if (old) engine_->retire([old] { old->unref(); });
    return info.Env().Undefined();
  }

  Napi::Value Unlisten(const Napi::CallbackInfo& info) {
    if (!engine_ || info.Length() < 1 || !info[0].IsNumber()) return info.Env().Undefined();
    auto it = listeners_.find(info[0].As<Napi::Number>().Uint32Value());
    if (it == listeners_.end()) return info.Env().Undefined();
    Listener* l = it->second;
    listeners_.erase(it);
    engine_->remove_listener(l);
    return info.Env().Undefined();
  }

  Napi::Value Reclaim(const Napi::CallbackInfo& info) {
    if (engine_) engine_->reclaim();
    return info.Env().Undefined();
  }

  // close(): stops the workers (they close whatever connection is left) and frees everything.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  void Shutdown() {
    if (!engine_) return;
    for (auto& kv : listeners_) engine_->remove_listener(kv.second);
    listeners_.clear();
    engine_->stop();
    for (auto& kv : targets_) kv.second->unref();
    targets_.clear();
    for (auto& kv : apps_) kv.second->unref();
    apps_.clear();
    engine_.reset();  // runs what was retired: every worker has stopped
    tsfn_.Abort();
  }

  std::unique_ptr<Engine> engine_;
  Napi::ThreadSafeFunction tsfn_;
  uint32_t threads_ = 1;
  uint32_t next_id_ = 1;
  std::unordered_map<uint32_t, App*> apps_;
  std::unordered_map<uint32_t, Target*> targets_;
  std::unordered_map<uint32_t, Listener*> listeners_;
};

// raiseFdLimit() -> {before, soft, hard}: the soft RLIMIT_NOFILE raised to the hard limit.
Napi::Value RaiseFdLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return env.Null();
  const double before = rl.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(rl.rlim_cur);
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("before", before);
  o.Set("soft", rl.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(rl.rlim_cur));
  o.Set("hard", rl.rlim_max == RLIM_INFINITY ? -1.0 : static_cast<double>(rl.rlim_max));
  return o;
}

// balanceOrder(mode, addresses[], actives[], weights[], schedule[], key, start) -> indices: for the parity tests.
Napi::Value BalanceOrder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[1].IsArray() || !info[2].IsArray() || !info[3].IsArray() || !info[4].IsArray()) {
    Napi::TypeError::New(env, "balanceOrder(mode, addresses, actives, weights, schedule, key, start)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array addrs = info[1].As<Napi::Array>();
  Napi::Array actives = info[2].As<Napi::Array>();
  Napi::Array ws = info[3].As<Napi::Array>();
  Napi::Array sched = info[4].As<Napi::Array>();
  uint32_t n = addrs.Length() < kMaxTargets ? addrs.Length() : kMaxTargets;
  std::vector<std::string> a(n);
  std::vector<int64_t> act(n);
  std::vector<uint32_t> w(n);
  bool uniform = true;
  for (uint32_t i = 0; i < n; i++) {
    a[i] = addrs.Get(i).ToString().Utf8Value();
    act[i] = i < actives.Length() ? actives.Get(i).ToNumber().Int64Value() : 0;
    w[i] = i < ws.Length() ? ws.Get(i).ToNumber().Uint32Value() : 1;
    if (w[i] < 1) w[i] = 1;
    if (w[i] > 256) w[i] = 256;
    if (w[i] != w[0]) uniform = false;
  }
  std::vector<uint16_t> s;
  for (uint32_t k = 0; k < sched.Length(); k++) {
    const uint32_t x = sched.Get(k).ToNumber().Uint32Value();
    if (x < n) s.push_back(static_cast<uint16_t>(x));
  }
  uint32_t order[kMaxTargets];
  balance_order(
      info[0].ToNumber().Int32Value(), n, static_cast<uint64_t>(info[6].ToNumber().Int64Value()), info[5].ToString().Utf8Value(), [&](uint32_t i) { return act[i]; },
      [&](uint32_t i) -> const std::string& { return a[i]; }, Weights{w.data(), s.data(), static_cast<uint32_t>(s.size()), uniform}, order);
  Napi::Array out = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) out[i] = Napi::Number::New(env, order[i]);
  return out;
}

// fooScan(chunks: Buffer[], fromClient, maxLine, closeOnInvalid) -> [verdict per chunk up to the first that stops, req, ack, nak, invalid]: for the parity tests.
Napi::Value FooScan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "fooScan(chunks, fromClient, maxLine, closeOnInvalid)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array chunks = info[0].As<Napi::Array>();
  FooScanner s;
  s.init(info[1].ToBoolean(), info[2].ToNumber().Uint32Value(), info[3].ToBoolean());
  FooCounts counts;
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (uint32_t i = 0; i < chunks.Length(); i++) {
    Napi::Value item = chunks.Get(i);
    if (!item.IsBuffer()) continue;
    Napi::Buffer<uint8_t> b = item.As<Napi::Buffer<uint8_t>>();
    const long v = s.scan(b.Data(), b.Length(), &counts);
    out[k++] = Napi::Number::New(env, static_cast<double>(v));
    if (v != kScanOk) break;  // the engine closes the connection here: nothing more is scanned
  }
  out[k++] = Napi::Number::New(env, static_cast<double>(counts.req));
  out[k++] = Napi::Number::New(env, static_cast<double>(counts.ack));
  out[k++] = Napi::Number::New(env, static_cast<double>(counts.nak));
  out[k++] = Napi::Number::New(env, static_cast<double>(counts.invalid));
  return out;
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", EngineWrap::Init(env));
  exports.Set("raiseFdLimit", Napi::Function::New(env, RaiseFdLimit));
  exports.Set("balanceOrder", Napi::Function::New(env, BalanceOrder));
  exports.Set("fooScan", Napi::Function::New(env, FooScan));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("shared", kShared);
  layout.Set("appStride", kAppStride);
  layout.Set("targetStride", kTargetStride);
  exports.Set("layout", layout);
  return exports;
}

}  // namespace
}  // namespace pxc

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return pxc::InitModule(env, exports); }
NODE_API_MODULE(proxyctl_engine, Init)
