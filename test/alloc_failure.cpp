//
// test/alloc_failure.cpp: std::bad_alloc from any allocation (DESIGN.md
// section 4, "Lifetime and threads": "either reaches the caller (or the
// awaiting body) as an exception or fails the coroutine; never
// std::terminate, never corrupted state").
//
// This file replaces the global operator new and delete with counting ones.
// A representative workload (one function, one single-threaded io_context)
// runs unarmed, which counts its allocations, A (about a hundred). Then, for
// every N in 1..A+5, it runs again with the Nth allocation failing
// (std::bad_alloc; a nothrow variant returns null), each run in a child
// process forked from the same warm state, so that the runs are identical up
// to N, and a std::terminate or a crash fails that N alone. Each run checks:
//
//  - no std::terminate (the child's terminate handler prints N and a
//    backtrace);
//  - the bad_alloc reached someone: the caller of the API call that threw
//    (the workload goes on after it, as a program that handles it would),
//    or a consumer, as the error it receives. A bad_alloc that escapes
//    io_context::poll() (a handler threw) or lands in the unhandled-error
//    handler reached nobody who could act on it: it fails the run;
//  - no corrupted state: no consumer called twice, none called after its
//    async_wait() threw, no wrong value, no unexpected error, nothing held
//    by a pause delivered while paused, and, unless a caller saw the
//    bad_alloc (the consumers that depend on its call may then never be
//    called), every consumer called: none lost;
//  - nothing leaks once the context and every handle are gone: every body
//    destroyed once, the live allocations back to their count before the
//    run (and, under AddressSanitizer, LeakSanitizer's check in the child).
//
// To debug one N in this process:
//
//   COFLOW_ALLOC_FAIL_AT=17 gdb -batch -ex 'break coflow_test_allocation_fails'
//       -ex run -ex bt --args ./alloc_failure --catch_system_errors=no
//
// COFLOW_ALLOC_VERBOSE=1 prints where each N's failure went. Under valgrind,
// which replaces operator new, only the unarmed workload runs.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE alloc_failure
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/error.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>
#include <coflow/unhandled_error.hpp>
#include <coflow/use_coroutine.hpp>
#include <coflow/use_deferred.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/types.h>
#include <sys/wait.h>
#include <execinfo.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <vector>

#if defined(COFLOW_TEST_LSAN)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

// --- the counting allocator ---------------------------------------------------

namespace alloc_control {

/// Successful allocations minus deallocations, over the whole process.
std::atomic<long> live{0};
/// Allocations since arm() (failed ones included).
std::atomic<long> since_arming{0};
/// The allocation (counted from 1 after arm()) that fails; 0: none.
std::atomic<long> fail_at{0};
std::atomic<bool> armed{false};
/// The failing allocation happened, and whether it was a nothrow one.
std::atomic<bool> failed{false};
std::atomic<bool> failed_nothrow{false};

void arm(long n) noexcept
{
  since_arming.store(0, std::memory_order_relaxed);
  failed.store(false, std::memory_order_relaxed);
  failed_nothrow.store(false, std::memory_order_relaxed);
  fail_at.store(n, std::memory_order_relaxed);
  armed.store(true, std::memory_order_seq_cst);
}

void disarm() noexcept { armed.store(false, std::memory_order_seq_cst); }

/// Called at the failing allocation: a place for a debugger's breakpoint
/// (`break coflow_test_allocation_fails`).
extern "C" [[gnu::noinline]] void coflow_test_allocation_fails() noexcept
{
  asm volatile("");
}

void* allocate(std::size_t size, std::size_t alignment, bool nothrow)
{
  if (armed.load(std::memory_order_relaxed)
      && since_arming.fetch_add(1, std::memory_order_relaxed) + 1
          == fail_at.load(std::memory_order_relaxed))
  {
    failed.store(true, std::memory_order_relaxed);
    failed_nothrow.store(nothrow, std::memory_order_relaxed);
    coflow_test_allocation_fails();
    if (nothrow)
      return nullptr;
    throw std::bad_alloc();
  }
  if (size == 0)
    size = 1;
  void* p = alignment <= __STDCPP_DEFAULT_NEW_ALIGNMENT__
      ? std::malloc(size)
      : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
  if (!p)
  {
    if (nothrow)
      return nullptr;
    throw std::bad_alloc();
  }
  live.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void deallocate(void* p) noexcept
{
  if (!p)
    return;
  live.fetch_sub(1, std::memory_order_relaxed);
  std::free(p);
}

constexpr std::size_t plain = 0;

} // namespace alloc_control

// Never inlined: valgrind (which the test script runs with
// --soname-synonyms=somalloc=NONE) replaces these functions by their names,
// and must replace every call, or it sees a block from one allocator freed
// by the other.
[[gnu::noinline]] void* operator new(std::size_t n)
{
  return alloc_control::allocate(n, alloc_control::plain, false);
}
[[gnu::noinline]] void* operator new[](std::size_t n)
{
  return alloc_control::allocate(n, alloc_control::plain, false);
}
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept
{
  return alloc_control::allocate(n, alloc_control::plain, true);
}
[[gnu::noinline]] void* operator new[](std::size_t n, const std::nothrow_t&) noexcept
{
  return alloc_control::allocate(n, alloc_control::plain, true);
}
[[gnu::noinline]] void* operator new(std::size_t n, std::align_val_t a)
{
  return alloc_control::allocate(n, static_cast<std::size_t>(a), false);
}
[[gnu::noinline]] void* operator new[](std::size_t n, std::align_val_t a)
{
  return alloc_control::allocate(n, static_cast<std::size_t>(a), false);
}
[[gnu::noinline]] void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
  return alloc_control::allocate(n, static_cast<std::size_t>(a), true);
}
[[gnu::noinline]] void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept
{
  return alloc_control::allocate(n, static_cast<std::size_t>(a), true);
}

[[gnu::noinline]] void operator delete(void* p) noexcept { alloc_control::deallocate(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { alloc_control::deallocate(p); }
[[gnu::noinline]] void operator delete(void* p, const std::nothrow_t&) noexcept { alloc_control::deallocate(p); }
[[gnu::noinline]] void operator delete[](void* p, const std::nothrow_t&) noexcept { alloc_control::deallocate(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { alloc_control::deallocate(p); }
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { alloc_control::deallocate(p); }
[[gnu::noinline]] void operator delete(void* p, std::align_val_t) noexcept { alloc_control::deallocate(p); }
[[gnu::noinline]] void operator delete[](void* p, std::align_val_t) noexcept { alloc_control::deallocate(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t, std::align_val_t) noexcept
{
  alloc_control::deallocate(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t, std::align_val_t) noexcept
{
  alloc_control::deallocate(p);
}
[[gnu::noinline]] void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
  alloc_control::deallocate(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
  alloc_control::deallocate(p);
}

// --- the workload -------------------------------------------------------------

namespace asio = boost::asio;
using coflow::coroutine;
using coflow::deferred;
using coflow_test::holds;

namespace {

/// Bodies alive: each coroutine body below holds a frame_guard.
long live_frames = 0;

struct frame_guard
{
  frame_guard() noexcept { ++live_frames; }
  frame_guard(const frame_guard&) = delete;
  ~frame_guard() { --live_frames; }
};

/// An error that allocates nothing through operator new (its message is a
/// literal): the orphan's report never competes with the swept failure.
struct orphan_error : std::exception
{
  const char* what() const noexcept override { return "orphan"; }
};

coroutine<int> add_one(deferred<int> d)
{
  frame_guard g;
  co_return co_await d + 1;
}

coroutine<int> twice(deferred<int> d)
{
  frame_guard g;
  int v = co_await add_one(d);
  co_return v * 2;
}

coroutine<int> posted_value(int v)
{
  frame_guard g;
  co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
  co_return v;
}

/// A started child, and a child awaited inline that waits on @p d.
coroutine<int> parent_with_children(deferred<int> d)
{
  frame_guard g;
  auto started = coflow::spawn(co_await coflow::this_coro::executor, posted_value(1));
  int a = co_await add_one(d);
  int b = co_await started;
  co_return a + b;
}

coroutine<int> timer_body()
{
  frame_guard g;
  auto ex = co_await coflow::this_coro::executor;
  asio::steady_timer t(ex, std::chrono::steady_clock::duration::zero());
  co_await t.async_wait(coflow::use_coroutine);
  co_await asio::post(ex, coflow::use_coroutine);
  co_return 7;
}

/// Tail calls to unstarted next states.
coroutine<int> countdown(int n)
{
  frame_guard g;
  if (n == 0)
    co_return 100;
  co_return co_await coflow::tail_call(countdown(n - 1));
}

/// A tail call to a started next state.
coroutine<int> hand_over(deferred<int> d)
{
  frame_guard g;
  auto next = coflow::spawn(co_await coflow::this_coro::executor, add_one(d));
  co_return co_await coflow::tail_call(std::move(next));
}

/// n levels of children awaited inline, down to @p leaf: a cascade through
/// it queues more control operations than one block of the control queue
/// holds.
coroutine<int> chain(int n, deferred<int> leaf)
{
  frame_guard g;
  if (n == 0)
    co_return co_await leaf;
  co_return 1 + co_await chain(n - 1, leaf);
}

/// Awaits a child that another handle, @p out, keeps: the child borrows
/// this coroutine's executor, and must give @p out a copy of its own before
/// this frame goes.
coroutine<int> keeps_child(deferred<int> d, coroutine<int>& out)
{
  frame_guard g;
  out = add_one(d);
  co_return co_await out;
}

/// Waits on a timer that never expires by itself.
coroutine<int> long_wait()
{
  frame_guard g;
  asio::steady_timer t(co_await coflow::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(coflow::use_coroutine);
  co_return 0;
}

asio::awaitable<int> five()
{
  co_return 5;
}

coroutine<int> awaits_awaitable()
{
  frame_guard g;
  co_return co_await five();
}

/// hand_over() as a child awaited inline: its coroutine state has no extras yet when
/// the tail call needs them.
coroutine<int> via_child(deferred<int> d)
{
  frame_guard g;
  co_return co_await hand_over(d);
}

/// Where dropped_bottom() and drops_handler() leave their operations'
/// handlers.
struct handler_box
{
  std::optional<coflow_test::stored_handler> stored; // the bottom's
  std::optional<coflow_test::stored_handler> wake;   // the dropper's
};

using coflow_test::hand_to;

/// A recursion deeper than the nesting bound whose bottom hands its
/// operation's handler to @p box and calls the dropper's handler inline:
/// the dropper is queued on the same pump, and drops the bottom's handler
/// after the bottom has suspended, while the levels at the bound are still
/// parked, unpublished. The bottom resumes with the dropped-handler error;
/// if that error cannot be built, the bottom is abandoned up to the
/// innermost parked level, which resumes with it.
coroutine<int> dropped_bottom(int n, handler_box* box)
{
  frame_guard g;
  if (n == 0)
  {
    co_await hand_to(box->stored, [box] {
      if (box->wake)
      {
        auto wake = std::move(*box->wake);
        box->wake.reset();
        std::move(wake)(boost::system::error_code());
      }
    });
    co_return 0;
  }
  co_return 1 + co_await dropped_bottom(n - 1, box);
}

coroutine<int> drops_handler(handler_box* box)
{
  frame_guard g;
  co_await hand_to(box->wake, [] {});
  box->stored.reset();
  co_return 0;
}

bool is_dropped_handler_error(const std::exception_ptr& e)
{
  return holds<std::logic_error>(e)
      && std::strstr(coflow_test::what_of(e), "destroyed its handler") != nullptr;
}

coroutine<void> orphan()
{
  throw orphan_error();
  co_return;
}

/// The consumers of the workload.
enum consumer_id
{
  c_children,
  c_timer,
  c_deferred_timer,
  c_deferred_post,
  c_then,
  c_chained,
  c_paused,
  c_released,
  c_awaitable,
  c_tail_unstarted,
  c_tail_started,
  c_deep,
  c_kept,
  c_dropper,
  c_dropped,           // ends with the dropped-handler error
  c_dropped_alone,     // the same, or abandoned if the error cannot be built
  c_cancelled,         // the first of those that end in cancelled_error
  c_timer_cancelled,
  c_deferred_cancelled,
  c_stuck_child,       // the first of those left suspended (the context goes)
  c_stuck_children,
  c_stuck_kept,
  c_stuck_held,        // a wake-up held by a pause when the context goes
  consumer_count
};

const char* const consumer_names[consumer_count] = {"children", "timer",
    "use_deferred timer", "use_deferred post", "then()", "chained", "paused",
    "held, then released", "asio::awaitable", "tail call (unstarted)",
    "tail call (started)", "deep chain", "kept child", "handler dropper",
    "handler dropped below the parked nest", "handler dropped, no parked level",
    "cancelled",
    "timer cancelled", "use_deferred cancelled", "stuck child", "stuck children",
    "stuck kept child", "stuck held"};

/// What the workload delivers to each consumer when nothing fails.
constexpr long expected_values[consumer_count] = {43, 7, 0, 0, 42, 5, 12, 4, 5, 100,
    10, 43, 2, 0};

bool is_stuck(int id)
{
  return id >= c_stuck_child;
}

bool ends_cancelled(int id)
{
  return id >= c_cancelled && id < c_stuck_child;
}

bool ends_dropped(int id)
{
  return id == c_dropped || id == c_dropped_alone;
}

struct record
{
  int calls = 0;
  bool initiation_threw = false;
  long value = 0;
  std::exception_ptr error;
};

/// One run's observations. Built before the counting is armed: nothing in
/// here allocates while the workload runs (the reports have their room).
struct run_state
{
  std::array<record, consumer_count> records{};
  std::vector<std::exception_ptr> reports;
  /// A call of the workload threw std::bad_alloc to its caller.
  bool caller_saw = false;
  /// The allocations (counted from arming) made while the completions of
  /// the two cancelled operations ran: a failure there is superseded by the
  /// cancel (a cancelled coroutine's result is cancelled_error whatever its
  /// operation delivered; a cancelled deferred has failed already).
  long cancelled_completions_begin = -1;
  long cancelled_completions_end = -1;
  /// The allocations of the pause cascaded through the deep chain: a
  /// forwarded pause builds a level's extras if it can, and a failure there
  /// is absorbed (the pause counts all the same; the extras are built when
  /// a wake-up must be held), so it need reach nobody.
  long deep_pause_begin = -1;
  long deep_pause_end = -1;
  /// The allocations made while the dropped handler's chain ran: a failure
  /// to build the dropped-handler error abandons the bottom, and the parked
  /// level resumes with that error instead, which supersedes the bad_alloc.
  long dropped_begin = -1;
  long dropped_end = -1;
  /// io_context::poll() threw (a handler's exception).
  bool run_threw = false;
  bool orphan_spawned = false;
  bool canceller_called = false;
  bool cancel_requested = false;
  /// An invariant broken while the workload ran (a literal).
  const char* violation = nullptr;

  /// Handles kept beyond the workload (see keeps_child()).
  coroutine<int> kept;
  coroutine<int> kept_stuck;

  /// What reaches the unhandled-error handler goes to reports while this
  /// state lives (the last member: the previous handler is back before the
  /// others go).
  coflow_test::unhandled_error_guard reporting{
      [this](std::exception_ptr e) { reports.push_back(e); }};

  run_state() { reports.reserve(64); }

  /// Runs one call of the workload; a std::bad_alloc from it reaches the
  /// caller, which goes on. @returns whether it returned normally.
  template <class Function>
  bool step(Function&& f)
  {
    try
    {
      f();
      return true;
    }
    catch (const std::bad_alloc&)
    {
      caller_saw = true;
      return false;
    }
  }

  /// Runs the handlers until none is left; a handler's exception goes out
  /// of poll() to here, and the loop goes on, as a robust program's would.
  void drain(asio::io_context& io)
  {
    for (int i = 0; i < 1000; ++i)
    {
      try
      {
        coflow_test::run_until_quiet(io);
        return;
      }
      catch (const std::bad_alloc&)
      {
        run_threw = true;
        io.restart();
      }
    }
  }

  /// Runs one handler (see drain()).
  void poll_one(asio::io_context& io)
  {
    try
    {
      io.poll_one();
    }
    catch (const std::bad_alloc&)
    {
      run_threw = true;
    }
    io.restart();
  }

  template <class Waitable>
  void wait_int(const Waitable& w, consumer_id id)
  {
    record& r = records[id];
    r.initiation_threw = !step([&] {
      w.async_wait([&r](std::exception_ptr e, int v) {
        ++r.calls;
        r.error = e;
        r.value = v;
      });
    });
  }

  void wait_void(const deferred<void>& d, consumer_id id)
  {
    record& r = records[id];
    r.initiation_threw = !step([&] {
      d.async_wait([&r](std::exception_ptr e) {
        ++r.calls;
        r.error = e;
      });
    });
  }

  void wait_string(const deferred<std::string>& d, consumer_id id)
  {
    record& r = records[id];
    r.initiation_threw = !step([&] {
      d.async_wait([&r](std::exception_ptr e, std::string s) {
        ++r.calls;
        r.error = e;
        r.value = static_cast<long>(s.size());
      });
    });
  }

  template <class T>
  deferred<T> make_deferred(asio::io_context& io)
  {
    deferred<T> d;
    step([&] { d = deferred<T>(io); });
    return d;
  }

  template <class T>
  coroutine<T> spawn(asio::io_context& io, coroutine<T> (*body)())
  {
    coroutine<T> c;
    step([&] { c = coflow::spawn(io, body()); });
    return c;
  }

  template <class T, class Arg>
  coroutine<T> spawn(asio::io_context& io, coroutine<T> (*body)(Arg), const Arg& arg)
  {
    coroutine<T> c;
    step([&] { c = coflow::spawn(io, body(arg)); });
    return c;
  }
};

/// The workload: every kind of allocation coflow makes, in one context.
void workload(run_state& s)
{
  asio::io_context io;

  // Children awaited inline and started ones, a deferred awaited and fired.
  auto d_children = s.make_deferred<int>(io);
  coroutine<int> children;
  if (d_children)
    children = s.spawn(io, parent_with_children, d_children);
  if (children)
    s.wait_int(children, c_children);

  // An Asio timer and a post, with use_coroutine.
  auto timer = s.spawn(io, timer_body);
  if (timer)
    s.wait_int(timer, c_timer);

  // use_deferred.
  std::optional<asio::steady_timer> t;
  deferred<void> d_timer;
  s.step([&] {
    t.emplace(io, std::chrono::steady_clock::duration::zero());
    d_timer = t->async_wait(coflow::use_deferred);
  });
  if (d_timer)
    s.wait_void(d_timer, c_deferred_timer);
  deferred<void> d_post;
  s.step([&] { d_post = asio::post(io, coflow::use_deferred); });
  if (d_post)
    s.wait_void(d_post, c_deferred_post);

  // A callback chain, then(), and a callback returning a deferred.
  auto d_source = s.make_deferred<int>(io);
  deferred<std::string> d_text;
  if (d_source)
    s.step([&] {
      d_source.add_callback([](int v) { return v * 2; });
      d_text = d_source.then(
          [](int v) { return std::string(40, 'x') + std::to_string(v); });
    });
  if (d_text)
    s.wait_string(d_text, c_then);
  auto d_outer = s.make_deferred<int>(io);
  auto d_inner = s.make_deferred<int>(io);
  bool chained = false;
  if (d_outer && d_inner)
    chained = s.step([&] { d_outer.add_callback([d_inner](int) { return d_inner; }); });
  if (chained)
    s.wait_int(d_outer, c_chained);

  // Pause and unpause of a parent with a child; cancel of a parent whose
  // child waits.
  auto d_pause = s.make_deferred<int>(io);
  coroutine<int> paused;
  if (d_pause)
    paused = s.spawn(io, twice, d_pause);
  if (paused)
    s.wait_int(paused, c_paused);
  deferred<int> d_cancel;
  s.step([&] {
    d_cancel = deferred<int>(io, [&s](deferred<int>&) { s.canceller_called = true; });
  });
  coroutine<int> cancelled;
  if (d_cancel)
    cancelled = s.spawn(io, twice, d_cancel);
  if (cancelled)
    s.wait_int(cancelled, c_cancelled);

  // An Asio operation and a deferred of an Asio operation, cancelled.
  auto timer_cancelled = s.spawn(io, long_wait);
  if (timer_cancelled)
    s.wait_int(timer_cancelled, c_timer_cancelled);
  std::optional<asio::steady_timer> long_timer;
  deferred<void> d_long;
  s.step([&] {
    long_timer.emplace(io, std::chrono::hours(1));
    d_long = long_timer->async_wait(coflow::use_deferred);
  });
  if (d_long)
    s.wait_void(d_long, c_deferred_cancelled);

  // An asio::awaitable.
  auto awaitable = s.spawn(io, awaits_awaitable);
  if (awaitable)
    s.wait_int(awaitable, c_awaitable);

  // Tail calls: to unstarted next states, and to a started one.
  auto tail_unstarted = s.spawn(io, countdown, 3);
  if (tail_unstarted)
    s.wait_int(tail_unstarted, c_tail_unstarted);
  auto d_tail = s.make_deferred<int>(io);
  coroutine<int> tail_started;
  if (d_tail)
    tail_started = s.spawn(io, via_child, d_tail);
  if (tail_started)
    s.wait_int(tail_started, c_tail_started);

  // A chain deeper than the control queue's block: paused and unpaused.
  auto d_deep = s.make_deferred<int>(io);
  coroutine<int> deep;
  if (d_deep)
    s.step([&] { deep = coflow::spawn(io, chain(40, d_deep)); });
  if (deep)
    s.wait_int(deep, c_deep);

  // A child that another handle keeps, finished, and left suspended.
  auto d_kept = s.make_deferred<int>(io);
  coroutine<int> kept_parent;
  if (d_kept)
    s.step([&] { kept_parent = coflow::spawn(io, keeps_child(d_kept, s.kept)); });
  if (kept_parent)
    s.wait_int(kept_parent, c_kept);

  // An error nobody receives: reported to the unhandled-error handler.
  s.orphan_spawned = s.step([&] { (void)coflow::spawn(io, orphan()); });

  // Frames left suspended when the context goes.
  auto d_never = s.make_deferred<int>(io);
  if (d_never)
  {
    auto stuck = s.spawn(io, twice, d_never);
    if (stuck)
      s.wait_int(stuck, c_stuck_child);
    auto stuck_children = s.spawn(io, parent_with_children, d_never);
    if (stuck_children)
      s.wait_int(stuck_children, c_stuck_children);
    coroutine<int> stuck_kept;
    s.step([&] { stuck_kept = coflow::spawn(io, keeps_child(d_never, s.kept_stuck)); });
    if (stuck_kept)
      s.wait_int(stuck_kept, c_stuck_kept);
  }

  s.drain(io);

  // The pause holds the result.
  if (paused && s.step([&] { paused.pause(); }))
  {
    if (d_pause)
      s.step([&] { d_pause.callback(5); });
    s.drain(io);
    if (s.records[c_paused].calls != 0 && !s.records[c_paused].error)
      s.violation = "a paused coroutine delivered its result";
    s.step([&] { paused.unpause(); });
  }
  else if (d_pause)
    s.step([&] { d_pause.callback(5); });
  s.deep_pause_begin = alloc_control::since_arming.load();
  const bool deep_paused = deep && s.step([&] { deep.pause(); });
  s.deep_pause_end = alloc_control::since_arming.load();
  if (deep_paused)
  {
    if (d_deep)
      s.step([&] { d_deep.callback(3); });
    s.drain(io);
    if (s.records[c_deep].calls != 0 && !s.records[c_deep].error)
      s.violation = "a paused chain delivered its result";
    s.step([&] { deep.unpause(); });
  }
  else if (d_deep)
    s.step([&] { d_deep.callback(3); });
  if (cancelled)
    s.cancel_requested = s.step([&] { cancelled.cancel(); });
  if (timer_cancelled)
    s.step([&] { timer_cancelled.cancel(); });
  if (d_long)
    s.step([&] { d_long.cancel(); });
  s.cancelled_completions_begin = alloc_control::since_arming.load();
  s.drain(io); // the cancelled completions, on their own
  s.cancelled_completions_end = alloc_control::since_arming.load();

  if (d_children)
    s.step([&] { d_children.callback(41); });
  if (d_kept)
    s.step([&] { d_kept.callback(1); });
  if (d_source)
    s.step([&] { d_source.callback(42); });
  if (d_outer)
    s.step([&] { d_outer.callback(1); });
  s.drain(io);
  if (d_inner)
    s.step([&] { d_inner.callback(5); });
  if (d_tail)
    s.step([&] { d_tail.callback(9); });
  s.drain(io);

  // A handler dropped below the parked nest, on its own in the context.
  {
    handler_box box; // its handler goes before the context
    coroutine<int> dropper;
    coroutine<int> dropped;
    s.step([&] { dropper = coflow::spawn(io, drops_handler(&box)); });
    if (dropper)
    {
      s.wait_int(dropper, c_dropper);
      s.drain(io); // the dropper waits
      s.step([&] { dropped = coflow::spawn(io, dropped_bottom(36, &box)); });
    }
    if (dropped)
      s.wait_int(dropped, c_dropped);
    // The bottom alone, its handler dropped by this caller, out of any
    // pump: no level is parked above it to take the error.
    handler_box alone_box;
    coroutine<int> alone;
    s.step([&] { alone = coflow::spawn(io, dropped_bottom(0, &alone_box)); });
    if (alone)
      s.wait_int(alone, c_dropped_alone);
    s.dropped_begin = alloc_control::since_arming.load();
    s.drain(io);
    alone_box.stored.reset();
    s.drain(io);
    s.dropped_end = alloc_control::since_arming.load();
    // A chain that failed before its bottom never woke the dropper.
    if (box.wake)
    {
      auto wake = std::move(*box.wake);
      box.wake.reset();
      std::move(wake)(boost::system::error_code());
      s.drain(io);
    }
  }

  // A wake-up held by a pause, then released.
  auto released = s.spawn(io, posted_value, 4);
  if (released)
  {
    s.wait_int(released, c_released);
    s.poll_one(io); // the start: the body posts and suspends
    if (s.step([&] { released.pause(); }))
    {
      s.drain(io); // the post completes: held
      // (An error may have come before the pause: a failed start.)
      if (s.records[c_released].calls != 0 && !s.records[c_released].error)
        s.violation = "a paused coroutine was resumed";
      s.step([&] { released.unpause(); });
    }
    s.drain(io);
  }

  // A wake-up held by a pause when the context goes.
  auto held = s.spawn(io, posted_value, 3);
  if (held)
  {
    s.wait_int(held, c_stuck_held);
    s.poll_one(io);
    if (s.step([&] { held.pause(); }))
      s.drain(io);
  }
  // Here the handles go, then the context, with suspended frames.
}

/// The checks of one run (armed or not). Prints each problem with @p n;
/// @returns the number of problems.
int check_run(run_state& s, long n, bool armed)
{
  int problems = 0;
  auto problem = [&](const char* what, const char* name = "") {
    ++problems;
    std::fprintf(stderr, "alloc_failure: N=%ld: %s%s%s\n", n, what, *name ? ": " : "",
        name);
  };
  // A caller that sees the std::bad_alloc knows that what it asked for may
  // not happen: the consumers that depend on it may never be called. An
  // exception out of poll() excuses nothing: a handler's bad_alloc has no
  // caller to inform (nobody can tell which operation failed), and the
  // result it carried is lost.
  const bool threw_out = s.caller_saw;
  bool delivered = false;
  if (s.violation)
    problem(s.violation);
  if (s.run_threw)
    problem("a std::bad_alloc escaped io_context::poll(): a handler threw");
  int orphan_reports = 0;
  bool reported_bad_alloc = false;
  bool told_of_drop = false;
  for (const auto& e : s.reports)
  {
    if (holds<orphan_error>(e))
      ++orphan_reports;
    else if (is_dropped_handler_error(e)
        && (s.records[c_dropped].calls == 0 || s.records[c_dropped_alone].calls == 0))
      ; // the chain's error, which nobody waited for: reported, as it must be
    else if (holds<std::bad_alloc>(e) && n > s.dropped_begin && n <= s.dropped_end)
      told_of_drop = true; // no memory for the dropped-handler error: the only one told
    else if (holds<std::bad_alloc>(e))
      reported_bad_alloc = true;
    else
    {
      problem("the unhandled-error handler received an unexpected error");
      std::fprintf(stderr, "alloc_failure: N=%ld:   the error: %s\n", n, coflow_test::what_of(e));
    }
  }
  for (int id = 0; id < consumer_count; ++id)
  {
    const record& r = s.records[id];
    const char* name = consumer_names[id];
    if (r.calls > 1)
      problem("a consumer was called more than once", name);
    if (r.initiation_threw && r.calls != 0)
      problem("a consumer was called although its async_wait() threw", name);
    if (r.calls == 0)
    {
      // (A coroutine whose dropped-handler error could not be built is
      // abandoned, and the handler told of the std::bad_alloc.)
      if (!is_stuck(id) && !r.initiation_threw && !threw_out
          && !(id == c_dropped_alone && told_of_drop))
        problem("a consumer was never called (lost), and no caller saw an error", name);
      continue;
    }
    if (r.error)
    {
      if (holds<std::bad_alloc>(r.error))
        delivered = true;
      else if (ends_cancelled(id) && holds<coflow::cancelled_error>(r.error))
        ;
      else if (ends_dropped(id) && is_dropped_handler_error(r.error))
        ;
      else
      {
        problem("a consumer received an unexpected error", name);
        std::fprintf(stderr, "alloc_failure: N=%ld:   the error: %s\n", n, coflow_test::what_of(r.error));
      }
    }
    else if (is_stuck(id))
      problem("a consumer of a coroutine that never completes received a value", name);
    else if (ends_cancelled(id))
      problem("a cancelled coroutine delivered a value", name);
    else if (ends_dropped(id))
      problem("a coroutine whose handler was dropped delivered a value", name);
    else if (r.value != expected_values[id])
      problem("a consumer received a wrong value", name);
  }
  // (A coroutine that failed with the bad_alloc before the cancel came is
  // finished: the cancel has nothing to reach.)
  if (s.cancel_requested && !s.canceller_called
      && holds<coflow::cancelled_error>(s.records[c_cancelled].error))
    problem("the cancel did not reach the deferred's canceller");

  if (orphan_reports > 1)
    problem("the orphan's error was reported more than once");
  if (s.orphan_spawned && orphan_reports == 0 && !threw_out)
    problem("the orphan's error was never reported");
  if (reported_bad_alloc && !threw_out)
    problem("a std::bad_alloc went to the unhandled-error handler instead of a consumer");

  if (armed && std::getenv("COFLOW_ALLOC_VERBOSE"))
  {
    // Where the failure went, one line per N.
    std::fprintf(stderr, "alloc_failure: N=%ld:%s%s%s%s", n,
        alloc_control::failed.load() ? "" : " (no failure)",
        alloc_control::failed_nothrow.load() ? " (nothrow)" : "",
        s.caller_saw ? " caller" : "", s.run_threw ? " poll()" : "");
    for (int id = 0; id < consumer_count; ++id)
      if (s.records[id].error && holds<std::bad_alloc>(s.records[id].error))
        std::fprintf(stderr, " [%s]", consumer_names[id]);
    std::fprintf(stderr, "%s\n", reported_bad_alloc ? " reported" : "");
  }
  if (armed)
  {
    const bool failed = alloc_control::failed.load();
    const bool superseded_by_cancel = n > s.cancelled_completions_begin
        && n <= s.cancelled_completions_end
        && holds<coflow::cancelled_error>(s.records[c_timer_cancelled].error)
        && holds<coflow::cancelled_error>(s.records[c_deferred_cancelled].error);
    // (The root's own allocation throws to the caller, which the run
    // counts anyway; the forwarded ones are absorbed.)
    const bool absorbed_by_cascade = n >= s.deep_pause_begin && n <= s.deep_pause_end
        && s.records[c_deep].calls == 1 && !s.records[c_deep].error;
    const bool superseded_by_drop = n > s.dropped_begin && n <= s.dropped_end
        && is_dropped_handler_error(s.records[c_dropped].error);
    if (failed && !alloc_control::failed_nothrow.load() && !threw_out && !delivered
        && !reported_bad_alloc && !superseded_by_cancel && !absorbed_by_cascade
        && !superseded_by_drop && !told_of_drop)
      problem("the std::bad_alloc vanished: no caller and no consumer received it");
  }
  else
  {
    // Unarmed, everything completes.
    if (threw_out)
      problem("the unarmed workload threw");
    if (orphan_reports != 1)
      problem("the unarmed workload did not report the orphan's error once");
    for (int id = 0; id < consumer_count; ++id)
      if (!is_stuck(id)
          && (s.records[id].calls != 1
              || (!ends_cancelled(id) && !ends_dropped(id) && s.records[id].error)))
        problem("the unarmed workload did not complete a consumer", consumer_names[id]);
  }
  return problems;
}

/// The unarmed workload's allocation count (measured by the first case).
long workload_allocations = 0;
/// The failing allocation of the current run, for the terminate handler.
long current_n = 0;

[[noreturn]] void on_terminate() noexcept
{
  alloc_control::disarm();
  std::fprintf(stderr,
      "alloc_failure: N=%ld: std::terminate (the failing allocation is the %ldth)\n",
      current_n, current_n);
  void* frames[64];
  const int depth = backtrace(frames, 64);
  backtrace_symbols_fd(frames, depth, 2);
  std::fflush(stderr);
  std::abort();
}

/// Runs the workload with allocation @p n failing (0: none) in this
/// process, and checks it. @returns the number of problems.
int run_one(long n)
{
  int problems = 0;
  {
    run_state s;
    const long frames_before = live_frames;
    // Every frame block comes from operator new (each one a point of the
    // sweep), and none is counted as leaked for being kept.
    coflow::detail::frame_block::trim();
    const long before = alloc_control::live.load();
    current_n = n;
    alloc_control::arm(n);
    try
    {
      workload(s);
    }
    catch (const std::bad_alloc&)
    {
      s.caller_saw = true;
    }
    alloc_control::disarm();
    // The kept children outlive their parents (and, for one, the context):
    // their executor must be their own by now (ASan sees a borrowed one).
    for (auto* kept : {&s.kept, &s.kept_stuck})
      if (*kept && kept->started())
      {
        try
        {
          (void)kept->get_executor();
        }
        catch (const std::bad_alloc&)
        {
          s.caller_saw = true; // the copy of the executor it needed failed
        }
      }
    s.kept = {};
    s.kept_stuck = {};
    problems += check_run(s, n, n != 0);
    if (live_frames != frames_before)
    {
      ++problems;
      std::fprintf(stderr,
          "alloc_failure: N=%ld: %ld coroutine bodies not destroyed once (alive: %ld)\n",
          n, live_frames - frames_before, live_frames);
      live_frames = frames_before;
    }
    // The observations hold exceptions whose members are counted.
    for (auto& r : s.records)
      r.error = nullptr;
    s.reports.clear();
    coflow::detail::frame_block::trim();
    const long leaked = alloc_control::live.load() - before;
    if (leaked != 0)
    {
      ++problems;
      std::fprintf(stderr, "alloc_failure: N=%ld: %ld allocations leaked\n", n, leaked);
    }
  }
  return problems;
}

/// Runs run_one(n) in a child process. @returns 0 if it passed, else a
/// code: 1 problems found, 2 terminate/abort, 3 other signal or status.
int run_forked(long n)
{
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0)
  {
    std::perror("alloc_failure: fork");
    return 3;
  }
  if (pid == 0)
  {
    // Boost.Test's monitor would catch a crash and go on with the next test
    // case, in the child: a crash ends the child instead.
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
      std::signal(sig, SIG_DFL);
    std::set_terminate(on_terminate);
#if defined(COFLOW_TEST_LSAN)
    __sanitizer_set_death_callback(+[] {
      std::fprintf(stderr, "alloc_failure: N=%ld: the sanitizer's report is above\n",
          current_n);
    });
#endif
    int problems = run_one(n);
#if defined(COFLOW_TEST_LSAN)
    if (__lsan_do_recoverable_leak_check() != 0)
    {
      std::fprintf(stderr, "alloc_failure: N=%ld: LeakSanitizer found leaks\n", n);
      ++problems;
    }
#endif
    std::fflush(stderr);
    _exit(problems == 0 ? 0 : 1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
  {
  }
  if (WIFEXITED(status))
    return WEXITSTATUS(status) == 0 ? 0 : WEXITSTATUS(status) == 1 ? 1 : 3;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
    return 2;
  std::fprintf(stderr, "alloc_failure: N=%ld: child ended by signal %d\n", n,
      WIFSIGNALED(status) ? WTERMSIG(status) : -1);
  return 3;
}

/// Whether this file's operator new is the one that runs: valgrind (with
/// --soname-synonyms=somalloc=NONE, as the test script runs it) replaces
/// it with its own, and then nothing can be counted or made to fail.
bool allocations_are_counted()
{
  alloc_control::arm(0);
  ::operator delete(::operator new(16)); // an explicit call: never elided
  const bool counted = alloc_control::since_arming.load() == 1;
  alloc_control::disarm();
  return counted;
}

} // namespace

BOOST_AUTO_TEST_CASE(shared_cancelled_error_never_allocates)
{
  // The first case of the process: shared_cancelled_error() is noexcept, so
  // an allocation failure inside it would be std::terminate. It is built
  // before main().
  alloc_control::arm(1);
  const std::exception_ptr* e = &coflow::detail::shared_cancelled_error();
  const long allocations = alloc_control::since_arming.load();
  alloc_control::disarm();
  BOOST_TEST(allocations == 0);
  BOOST_TEST(holds<coflow::cancelled_error>(*e));
  BOOST_TEST(e == &coflow::detail::shared_cancelled_error());
}

BOOST_AUTO_TEST_CASE(unarmed_workload_completes)
{
  if (!allocations_are_counted())
  {
    // Under valgrind: the workload still runs once, for valgrind to check.
    BOOST_TEST_MESSAGE("operator new is replaced (valgrind?): nothing is counted, "
                       "the sweep is skipped");
    run_state s;
    workload(s);
    BOOST_TEST(check_run(s, 0, false) == 0);
    BOOST_TEST(live_frames == 0);
    s.reports.clear();
    return;
  }
  // A first run fills the per-thread caches (coflow's kept frame block,
  // the unhandled-error handler's storage) that later runs find full: its
  // allocation count is not checked.
  {
    run_state s;
    workload(s);
    BOOST_TEST(check_run(s, 0, false) == 0);
    for (auto& r : s.records)
      r.error = nullptr;
    s.reports.clear();
  }
  BOOST_TEST(live_frames == 0);
  BOOST_TEST(run_one(0) == 0);
  {
    run_state s;
    coflow::detail::frame_block::trim();
    alloc_control::arm(0);
    workload(s);
    workload_allocations = alloc_control::since_arming.load();
    alloc_control::disarm();
    for (auto& r : s.records)
      r.error = nullptr;
    s.reports.clear();
  }
  BOOST_TEST_MESSAGE("the workload allocates " << workload_allocations << " times");
  BOOST_TEST(workload_allocations > 50);
}

BOOST_AUTO_TEST_CASE(every_allocation_fails_once)
{
  if (!allocations_are_counted())
    return; // said by the case above
  BOOST_TEST_REQUIRE(workload_allocations > 0);
  if (const char* at = std::getenv("COFLOW_ALLOC_FAIL_AT"))
  {
    // One point, in this process (for a debugger).
    const long n = std::atol(at);
    std::set_terminate(on_terminate);
    BOOST_TEST(run_one(n) == 0, "N=" << n);
    return;
  }
  // Every point, plus a few past the end (the count may vary by a few with
  // the reactor's timing).
  const long last = workload_allocations + 5;
  long swept = 0;
  std::vector<long> terminated, failed, other;
  for (long n = 1; n <= last; ++n)
  {
    ++swept;
    switch (run_forked(n))
    {
    case 0:
      break;
    case 1:
      failed.push_back(n);
      break;
    case 2:
      terminated.push_back(n);
      break;
    default:
      other.push_back(n);
      break;
    }
  }
  auto list = [](const std::vector<long>& v) {
    std::string s;
    for (long n : v)
      s += (s.empty() ? "" : " ") + std::to_string(n);
    return s.empty() ? std::string("none") : s;
  };
  BOOST_TEST_MESSAGE("swept " << swept << " allocation failures (N = 1.." << last
                              << ", the workload allocates " << workload_allocations
                              << " times)");
  BOOST_TEST(terminated.empty(), "std::terminate or abort at N = " << list(terminated));
  BOOST_TEST(failed.empty(), "checks failed at N = " << list(failed));
  BOOST_TEST(other.empty(), "crashed at N = " << list(other));
}
