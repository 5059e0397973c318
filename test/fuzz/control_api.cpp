//
// test/fuzz/control_api.cpp: a libFuzzer target over coflow's control API.
//
// The input bytes are decoded into a sequence of operations on a small set
// of deferreds and coroutines (create, spawn, fire, errback, pause, unpause,
// cancel, drop a handle, run one handler); the coroutines await deferreds,
// children, tail calls and Asio operations. At the end everything is
// released and run to completion, and the invariants are checked:
//   - every consumer got exactly one delivery;
//   - a coroutine delivered a value only if it was not cancelled first;
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
#include <coflow/use_coroutine.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
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

coroutine<int> body(int kind, deferred<int> d, asio::io_context& io)
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

struct fuzz_state
{
  asio::io_context io;
  std::vector<deferred<int>> deferreds;
  struct entry
  {
    coroutine<int> handle;
    bool spawned = false;
    unsigned pauses = 0;
    bool cancelled = false;
    std::shared_ptr<int> deliveries = std::make_shared<int>(0);
    std::shared_ptr<bool> got_value = std::make_shared<bool>(false);
  };
  std::vector<entry> coroutines;
  std::vector<std::shared_ptr<int>> consumers; // deliveries, per consumer
};

void run(const std::uint8_t* data, std::size_t size)
{
  auto s = std::make_unique<fuzz_state>();
  auto byte = [&](std::size_t& i) -> unsigned { return i < size ? data[i++] : 0; };

  for (std::size_t i = 0; i < size;)
  {
    const unsigned op = byte(i) % 10;
    const unsigned arg = byte(i);
    auto pick_deferred = [&]() -> deferred<int>* {
      return s->deferreds.empty() ? nullptr : &s->deferreds[arg % s->deferreds.size()];
    };
    auto pick_coroutine = [&]() -> fuzz_state::entry* {
      return s->coroutines.empty() ? nullptr : &s->coroutines[arg % s->coroutines.size()];
    };
    switch (op)
    {
    case 0: // create a deferred, with or without a canceller
      if (s->deferreds.size() < 8)
      {
        if (arg & 1)
          s->deferreds.emplace_back(s->io, [](deferred<int>&) {});
        else
          s->deferreds.emplace_back(s->io);
      }
      break;
    case 1: // fire
      if (auto* d = pick_deferred(); d && !d->called())
        d->callback(static_cast<int>(arg));
      break;
    case 2: // errback
      if (auto* d = pick_deferred(); d && !d->called())
        d->errback(std::make_exception_ptr(std::runtime_error("fuzz")));
      break;
    case 3: // create a coroutine on a deferred
      if (auto* d = pick_deferred(); d && s->coroutines.size() < 8)
        s->coroutines.push_back({body(static_cast<int>(arg / 8), *d, s->io)});
      break;
    case 4: // spawn, with one consumer
      if (auto* c = pick_coroutine(); c && c->handle && !c->spawned)
      {
        (void)coflow::spawn(s->io, c->handle);
        c->spawned = true;
        auto deliveries = c->deliveries;
        auto got_value = c->got_value;
        s->consumers.push_back(deliveries);
        c->handle.async_wait([deliveries, got_value](std::exception_ptr e, int) {
          ++*deliveries;
          *got_value = !e;
        });
      }
      break;
    case 5: // pause
      if (auto* c = pick_coroutine(); c && c->handle)
        c->handle.pause(), ++c->pauses;
      else if (auto* d = pick_deferred())
        d->pause();
      break;
    case 6: // unpause
      if (auto* c = pick_coroutine(); c && c->handle && c->pauses > 0)
        c->handle.unpause(), --c->pauses;
      break;
    case 7: // cancel
      if (auto* c = pick_coroutine(); c && c->handle)
      {
        if (!c->handle.called())
          c->cancelled = true;
        c->handle.cancel();
      }
      else if (auto* d = pick_deferred())
        d->cancel();
      break;
    case 8: // drop a handle (a spawned coroutine goes on)
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
    while (d.pause_count() > 0)
      d.unpause();
    if (!d.called())
      d.callback(0);
  }
  s->io.restart();
  s->io.run();

  for (auto& c : s->coroutines)
    if (c.spawned && c.handle)
    {
      check(*c.deliveries == 1, "a spawned coroutine delivered exactly once");
      check(!(c.cancelled && *c.got_value), "a cancelled coroutine delivered no value");
    }
  for (auto& deliveries : s->consumers)
    check(*deliveries == 1, "every consumer got exactly one delivery");

  s.reset(); // the context goes: unspawned and abandoned frames with it
  check(live_frames == 0, "every frame destroyed");
  check(cleanups == frames_made, "every cleanup ran once");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  run(data, size);
  return 0;
}
