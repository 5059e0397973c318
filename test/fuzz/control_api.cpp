//
// test/fuzz/control_api.cpp: a libFuzzer target over coflow's control API.
//
// The input bytes are decoded into a sequence of operations on a small set
// of deferreds and coroutines (create a deferred, fire, errback, create a
// coroutine that awaits a deferred, or awaits or tail-calls a coroutine of the
// set, spawn, add a consumer, pause, unpause, cancel, drop a handle, run one
// handler); the bodies await deferreds, inline children, tail calls and Asio
// operations. At the end everything is released and run to completion, and
// the invariants are checked:
//   - every consumer got exactly one delivery;
//   - a coroutine delivered a value only if it was not cancelled first, and
//     that value is the one computed from the values the deferreds were given
//     (nothing lost or mixed up while paused);
//   - every frame was destroyed exactly once (live frames back to 0), and
//     every cleanup ran exactly once;
//   - run() returned.
// A violated invariant aborts: libFuzzer reports it with the input.
//
// Build: CMake preset `fuzz` (clang++ 14, -fsanitize=fuzzer,address,undefined).
//

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>
#include <coflow/unhandled_error.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

namespace asio = boost::asio;
using coflow::coroutine;
using coflow::deferred;

namespace {

long live_frames = 0;
long cleanups = 0;
long frames_made = 0;

void check(bool ok, const char* what)
{
  if (!ok)
  {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

/// Lives in every frame: counts frames and runs its cleanup once.
struct frame_guard
{
  frame_guard() { ++live_frames, ++frames_made; }
  frame_guard(const frame_guard&) = delete;
  ~frame_guard()
  {
    --live_frames;
    ++cleanups;
  }
};

coroutine<int> leaf(deferred<int> d)
{
  frame_guard g;
  co_return co_await d + 1;
}

/// What a body adds to the value it awaits; see expected_value().
constexpr int deferred_body_adds[4] = {0, 1, 1, 0};

coroutine<int> on_deferred(int kind, deferred<int> d, asio::io_context& io)
{
  frame_guard g;
  switch (kind % 4)
  {
  case 0:
    co_return co_await d;
  case 1:
    co_return co_await leaf(d);
  case 2:
    co_return co_await coflow::tail_call(leaf(d));
  default:
    co_await asio::post(io, coflow::use_coroutine);
    co_return co_await d;
  }
}

/// Awaits, or tail-calls, a coroutine of the set: the set is a tree of
/// coroutines that share children (an unstarted one starts as a child).
coroutine<int> on_coroutine(bool tail, coroutine<int> c)
{
  frame_guard g;
  if (tail)
    co_return co_await coflow::tail_call(c);
  co_return co_await c + 1;
}

struct fuzz_state
{
  asio::io_context io;
  struct deferred_entry
  {
    deferred<int> d;
    std::optional<int> value; // what callback() gave it, if it did
  };
  std::vector<deferred_entry> deferreds;
  struct entry
  {
    coroutine<int> handle;
    int on_deferred = -1;  // the index of what it awaits:
    int on_coroutine = -1; // a deferred or a coroutine of the set
    int adds = 0;
    unsigned pauses = 0;
    bool cancelled = false; // cancel() before it completed
  };
  std::vector<entry> coroutines;
  struct consumer
  {
    std::size_t coroutine;
    int deliveries = 0;
    std::optional<int> value;
  };
  std::vector<std::unique_ptr<consumer>> consumers;

  /// The value entry @p i must deliver if it delivers one; none if what it
  /// depends on was never given a value (errback, cancel).
  std::optional<int> expected_value(std::size_t i) const
  {
    const entry& e = coroutines[i];
    std::optional<int> v = e.on_deferred >= 0
        ? deferreds[static_cast<std::size_t>(e.on_deferred)].value
        : expected_value(static_cast<std::size_t>(e.on_coroutine));
    if (v)
      *v += e.adds;
    return v;
  }

  void attach_consumer(std::size_t i)
  {
    auto* c = consumers.emplace_back(std::make_unique<consumer>(consumer{i, 0, std::nullopt})).get();
    coroutines[i].handle.async_wait([c](std::exception_ptr e, int v) {
      ++c->deliveries;
      if (!e)
        c->value = v;
    });
  }
};

void run(const std::uint8_t* data, std::size_t size)
{
  auto s = std::make_unique<fuzz_state>();
  auto byte = [&](std::size_t& i) -> unsigned { return i < size ? data[i++] : 0; };

  for (std::size_t i = 0; i < size;)
  {
    const unsigned op = byte(i) % 12;
    const unsigned arg = byte(i);
    auto pick_deferred = [&]() -> fuzz_state::deferred_entry* {
      return s->deferreds.empty() ? nullptr : &s->deferreds[arg % s->deferreds.size()];
    };
    auto pick_index = [&]() -> std::optional<std::size_t> {
      if (s->coroutines.empty())
        return std::nullopt;
      return arg % s->coroutines.size();
    };
    auto pick_coroutine = [&]() -> fuzz_state::entry* {
      auto i = pick_index();
      return i ? &s->coroutines[*i] : nullptr;
    };
    switch (op)
    {
    case 0: // create a deferred, with or without a canceller
      if (s->deferreds.size() < 8)
      {
        if (arg & 1)
          s->deferreds.push_back({deferred<int>(s->io, [](deferred<int>&) {}), std::nullopt});
        else
          s->deferreds.push_back({deferred<int>(s->io), std::nullopt});
      }
      break;
    case 1: // fire
      if (auto* d = pick_deferred(); d && !d->d.called())
      {
        d->d.callback(static_cast<int>(arg));
        d->value = static_cast<int>(arg);
      }
      break;
    case 2: // errback
      if (auto* d = pick_deferred(); d && !d->d.called())
        d->d.errback(std::make_exception_ptr(std::runtime_error("fuzz")));
      break;
    case 3: // create a coroutine that awaits a deferred
      if (s->deferreds.size() > 0 && s->coroutines.size() < 10)
      {
        const std::size_t d = arg % s->deferreds.size();
        const int kind = static_cast<int>(arg / 16 % 4);
        s->coroutines.push_back({on_deferred(kind, s->deferreds[d].d, s->io),
            static_cast<int>(d), -1, deferred_body_adds[kind]});
      }
      break;
    case 4: // create a coroutine that awaits, or tail-calls, one of the set
      if (auto c = pick_index(); c && s->coroutines[*c].handle && s->coroutines.size() < 10)
      {
        const bool tail = arg & 0x80;
        s->coroutines.push_back({on_coroutine(tail, s->coroutines[*c].handle), -1,
            static_cast<int>(*c), tail ? 0 : 1});
      }
      break;
    case 5: // spawn, with one consumer
      if (auto c = pick_index(); c && s->coroutines[*c].handle && !s->coroutines[*c].handle.started())
      {
        (void)coflow::spawn(s->io, s->coroutines[*c].handle);
        s->attach_consumer(*c);
      }
      break;
    case 6: // one more consumer of a started coroutine
      if (auto c = pick_index(); c && s->coroutines[*c].handle && s->coroutines[*c].handle.started())
        s->attach_consumer(*c);
      break;
    case 7: // pause
      if (auto* c = pick_coroutine(); c && c->handle)
        c->handle.pause(), ++c->pauses;
      else if (auto* d = pick_deferred())
        d->d.pause();
      break;
    case 8: // unpause
      if (auto* c = pick_coroutine(); c && c->handle && c->pauses > 0)
        c->handle.unpause(), --c->pauses;
      break;
    case 9: // cancel
      if (auto* c = pick_coroutine(); c && c->handle)
      {
        if (!c->handle.called())
          c->cancelled = true;
        c->handle.cancel();
      }
      else if (auto* d = pick_deferred())
        d->d.cancel();
      break;
    case 10: // drop a handle (a spawned coroutine, or an awaited one, goes on)
      if (auto* c = pick_coroutine(); c && c->handle && (arg & 1))
      {
        while (c->pauses > 0)
          c->handle.unpause(), --c->pauses;
        c->handle = {};
      }
      break;
    default: // run one handler
      s->io.restart();
      (void)s->io.poll_one();
      break;
    }
  }

  // Release everything: unpause, cancel, fire, run to the end.
  for (auto& c : s->coroutines)
    if (c.handle)
    {
      while (c.pauses > 0)
        c.handle.unpause(), --c.pauses;
      if (!c.handle.called())
        c.cancelled = true;
      c.handle.cancel();
    }
  for (auto& d : s->deferreds)
  {
    while (d.d.pause_count() > 0)
      d.d.unpause();
    if (!d.d.called())
    {
      d.d.callback(0);
      d.value = 0;
    }
  }
  s->io.restart();
  s->io.run();

  for (auto& consumer : s->consumers)
  {
    check(consumer->deliveries == 1, "every consumer got exactly one delivery");
    const auto& c = s->coroutines[consumer->coroutine];
    if (consumer->value)
    {
      check(!c.cancelled, "a coroutine cancelled before it completed delivered no value");
      check(consumer->value == s->expected_value(consumer->coroutine),
          "a delivered value is the one the coroutine computed");
    }
  }

  s.reset(); // the context goes: unspawned and abandoned frames with it
  check(live_frames == 0, "every frame destroyed");
  check(cleanups == frames_made, "every cleanup ran once");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
  // An errback nobody consumes is reported to this handler; the default one
  // writes a line per error, which would slow the run down for nothing.
  coflow::set_unhandled_error_handler([](std::exception_ptr) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  run(data, size);
  return 0;
}
