//
// test/coroutine.cpp: coflow::coroutine<T> and the cascade (DESIGN.md
// section 4), for children and deferreds. spawn: test/spawn.cpp.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE coroutine
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <coflow/this_coro.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <string>
#include <vector>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow_test::cleanup;
using coflow_test::event_log;
using coflow_test::holds;
using coflow::coroutine;
using coflow::deferred;

namespace {

coroutine<int> add_one(deferred<int> d)
{
  co_return co_await d + 1;
}

coroutine<int> twice(deferred<int> d)
{
  int v = co_await add_one(d);
  co_return v * 2;
}

coroutine<int> level(event_log& log, std::string name, int depth, deferred<int> leaf)
{
  cleanup c{log, name};
  if (depth == 0)
    co_return co_await leaf;
  co_return co_await level(log, name + "'", depth - 1, leaf);
}

} // namespace

BOOST_AUTO_TEST_SUITE(starting)

BOOST_FIXTURE_TEST_CASE(children_run_and_return, io_fixture)
{
  deferred<int> d(io);
  auto c = coflow::spawn(io, twice(d));
  asio::post(io, [&] { d.callback(20); });
  int result = 0;
  c.async_wait([&](std::exception_ptr, int v) { result = v; });
  io.run();
  BOOST_TEST(result == 42);
  BOOST_TEST(c.called());
}

BOOST_FIXTURE_TEST_CASE(exception_before_first_suspension, io_fixture)
{
  auto body = []() -> coroutine<int> {
    throw std::runtime_error("early");
    co_return 0;
  };
  coroutine<int> c;
  BOOST_CHECK_NO_THROW(c = coflow::spawn(io, body()));
  std::exception_ptr seen;
  c.async_wait([&](std::exception_ptr e, int) { seen = e; });
  io.run();
  BOOST_TEST(holds<std::runtime_error>(seen));
}

BOOST_AUTO_TEST_CASE(deferred_operations_need_a_started_coroutine)
{
  auto body = []() -> coroutine<int> { co_return 1; };
  auto c = body();
  BOOST_CHECK_THROW(c.async_wait([](std::exception_ptr, int) {}), std::logic_error);
  BOOST_CHECK_THROW(c.get_executor(), std::logic_error);
  coroutine<int> empty;
  BOOST_CHECK_THROW(empty.cancel(), std::logic_error);
}

BOOST_FIXTURE_TEST_CASE(dropping_handles_does_not_stop_it, io_fixture)
{
  deferred<int> d(io);
  int seen = 0;
  auto body = [&]() -> coroutine<void> {
    seen = co_await d;
  };
  (void)coflow::spawn(io, body());
  asio::post(io, [&] { d.callback(5); });
  io.run();
  BOOST_TEST(seen == 5);
}

BOOST_AUTO_TEST_CASE(constant_stack_for_synchronous_awaits)
{
  // Fired deferreds and children that finish without suspending, a million
  // times in one body: the trampoline keeps the stack flat at -O0 and under
  // ASan too (this test runs in the debug b2 build and the asan preset).
  asio::io_context io;
  auto child = []() -> coroutine<int> { co_return 1; };
  auto body = [&]() -> coroutine<long> {
    long sum = 0;
    for (int i = 0; i < 1000000; ++i)
    {
      deferred<int> d(io);
      d.callback(1);
      sum += co_await d;
      sum += co_await child();
    }
    co_return sum;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 2000000);
}

BOOST_AUTO_TEST_CASE(deep_recursion_of_synchronous_children)
{
  // Each level awaits the next before it finishes: children run nested in
  // their parent's await_suspend only up to a bound, then through the pump,
  // so 200 000 levels need no deep stack (debug and asan builds included).
  asio::io_context io;
  struct recurse
  {
    static coroutine<long> down(int depth)
    {
      if (depth == 0)
        co_return 0;
      co_return 1 + co_await down(depth - 1);
    }
  };
  auto f = coflow::spawn(io, recurse::down(200000), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 200000);
}

namespace {

/// A recursion whose bottom pauses or cancels the root, then returns: the
/// levels beyond the nesting bound are parked, unpublished, when the
/// control call comes, and the chain ends synchronously into them.
struct controlled_recursion
{
  coroutine<long>* root = nullptr;
  bool cancel = false;
  long levels_after = 0; // levels whose body went on after its child

  coroutine<long> down(int depth)
  {
    if (depth == 0)
    {
      if (cancel)
        root->cancel();
      else
        root->pause();
      co_return 0;
    }
    const long below = co_await down(depth - 1);
    ++levels_after;
    co_return below + 1;
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_pause_from_the_bottom_of_a_deep_recursion_holds_the_root)
{
  for (int depth : {10, 31, 32, 33, 64, 65, 100, 1000})
  {
    asio::io_context io;
    controlled_recursion r;
    coroutine<long> root = r.down(depth);
    r.root = &root;
    coflow::spawn(io, root, asio::detached);
    bool delivered = false;
    long value = -1;
    root.add_callback([&](long v) {
      delivered = true;
      value = v;
      return v;
    });
    coflow_test::run_until_quiet(io); // the held root keeps the context's work
    // Every level but the root's went on; the root's wake-up is held.
    BOOST_TEST(r.levels_after == depth - 1);
    BOOST_TEST(!delivered);
    BOOST_TEST(!root.called());
    root.unpause();
    io.run();
    BOOST_TEST(delivered);
    BOOST_TEST(value == depth);
    BOOST_TEST(r.levels_after == depth);
  }
}

BOOST_AUTO_TEST_CASE(a_cancel_from_the_bottom_of_a_deep_recursion_unwinds_the_root)
{
  for (int depth : {10, 32, 33, 100, 1000})
  {
    asio::io_context io;
    controlled_recursion r;
    r.cancel = true;
    coroutine<long> root = r.down(depth);
    r.root = &root;
    auto f = coflow::spawn(io, root, asio::use_future);
    io.run();
    BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
    // The cancel of a running coroutine is recorded; it stops the root at
    // its await, and reaches no level below it.
    BOOST_TEST(r.levels_after == depth - 1);
  }
}

namespace {

/// A recursion whose bottom stores its operation's handler and calls the
/// dropper's handler inline: the dropper, queued on the same pump, drops the
/// bottom's handler after the bottom has suspended, while the levels beyond
/// the nesting bound are still parked on that pump, unpublished.
struct dropped_below_the_parked_nest
{
  std::optional<coflow_test::stored_handler> stored; // the bottom's
  std::optional<coflow_test::stored_handler> wake;   // the dropper's
  int frames = 0; // alive

  struct alive
  {
    int& frames;
    explicit alive(int& f) : frames(++f) {}
    ~alive() { --frames; }
  };

  coroutine<long> down(int depth)
  {
    alive a(frames);
    if (depth == 0)
    {
      co_await coflow_test::hand_to(stored, [this] {
        auto w = std::move(*wake);
        wake.reset();
        std::move(w)(boost::system::error_code()); // queues the dropper
      });
      co_return 0;
    }
    co_return 1 + co_await down(depth - 1);
  }

  coroutine<void> dropper()
  {
    co_await coflow_test::hand_to(wake, [] {});
    stored.reset(); // the bottom resumes with the error
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_handler_dropped_below_the_parked_nest_fails_the_whole_chain)
{
  for (int depth : {40, 100})
  {
    asio::io_context io;
    dropped_below_the_parked_nest d;
    auto dropper = coflow::spawn(io, d.dropper(), asio::use_future);
    io.poll(); // the dropper waits
    auto root = coflow::spawn(io, d.down(depth), asio::use_future);
    io.run();
    dropper.get();
    // The bottom resumes with the error of a dropped handler; every level,
    // parked or not, unwinds with it, and every frame is destroyed.
    BOOST_CHECK_THROW(root.get(), std::logic_error);
    BOOST_TEST(!d.stored);
    BOOST_TEST(d.frames == 0);
  }
}

BOOST_AUTO_TEST_CASE(a_pause_released_during_an_inline_completion_is_forwarded_anew)
{
  // The body pauses itself, so its await forwards the pause to the
  // operation; the operation's initiation unpauses it and completes inline
  // (the body goes on without having suspended). The forwarded pause must be
  // released then: the next pause goes to the next await, and a child
  // awaited while paused does not start. (It stayed set, pointing at the
  // awaiter that was gone: the next pause was not forwarded, and a later
  // unpause called the gone awaiter, from any thread.)
  asio::io_context io;
  int child_started = 0;
  coroutine<int> root;
  auto child = [&]() -> coroutine<int> {
    ++child_started;
    co_return 7;
  };
  auto body = [&]() -> coroutine<int> {
    root.pause();
    co_await asio::async_initiate<const coflow::use_coroutine_t&, void(boost::system::error_code)>(
        [&](auto handler) {
          root.unpause();
          std::move(handler)(boost::system::error_code()); // inline
        },
        coflow::use_coroutine);
    root.pause();
    auto c = child();
    co_return co_await c;
  };
  root = body();
  coflow::spawn(io, root, asio::detached);
  coflow_test::run_until_quiet(io); // the paused root keeps the context's work
  BOOST_TEST(child_started == 0);
  BOOST_TEST(!root.called());
  int value = 0;
  root.add_callback([&](int v) {
    value = v;
    return v;
  });
  root.unpause();
  io.run();
  BOOST_TEST(child_started == 1);
  BOOST_TEST(value == 7);
}

BOOST_AUTO_TEST_CASE(frames_of_different_sizes_share_recycled_memory)
{
  // Small and large frames alternate: each reuses the block a thread keeps
  // only if it is large enough (ASan checks every byte written).
  asio::io_context io;
  struct frames
  {
    static coroutine<int> small(int i) { co_return i; }
    static coroutine<int> large(int i)
    {
      std::array<int, 2048> a{};
      a[static_cast<std::size_t>(i) % a.size()] = i;
      (void)co_await coflow::this_coro::executor; // keeps a in the frame
      co_return a[static_cast<std::size_t>(i) % a.size()];
    }
  };
  auto body = [&]() -> coroutine<long> {
    long sum = 0;
    for (int i = 0; i < 1000; ++i)
      sum += (i % 3 == 0) ? co_await frames::large(i) : co_await frames::small(i);
    co_return sum;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 999L * 1000 / 2);
}

BOOST_AUTO_TEST_CASE(coroutines_on_a_thread_that_ends)
{
  // The block a thread keeps goes back to the allocator when the thread
  // ends (LeakSanitizer, in the asan build, reports it otherwise).
  long result = 0;
  std::thread worker([&] {
    asio::io_context io;
    auto child = [](int i) -> coroutine<int> { co_return i; };
    auto body = [&]() -> coroutine<long> {
      long sum = 0;
      for (int i = 0; i < 100; ++i)
        sum += co_await child(i);
      co_return sum;
    };
    auto f = coflow::spawn(io, body(), asio::use_future);
    io.run();
    result = f.get();
  });
  worker.join();
  BOOST_TEST(result == 4950);
}

BOOST_AUTO_TEST_CASE(a_child_finishing_inline_respects_a_pause_of_its_parent)
{
  // The child finishes without suspending, but pauses its parent first:
  // the parent must not go on inside its await_suspend.
  asio::io_context io;
  coroutine<void> parent;
  bool after = false;
  auto child = [&]() -> coroutine<int> {
    parent.pause();
    co_return 7;
  };
  auto body = [&]() -> coroutine<void> {
    int v = co_await child();
    BOOST_TEST(v == 7);
    after = true;
  };
  parent = coflow::spawn(io, body());
  io.poll(); // the start, the child, and the hold
  BOOST_TEST(!after);
  parent.unpause();
  io.restart();
  io.run();
  BOOST_TEST(after);
}

BOOST_AUTO_TEST_CASE(a_child_handle_outlives_its_parent)
{
  // A child started inline borrows its parent's executor: a handle kept
  // after the parent is gone still has an executor and a result.
  asio::io_context io;
  coroutine<int> kept;
  {
    auto child = []() -> coroutine<int> { co_return 3; };
    auto body = [&]() -> coroutine<int> {
      auto c = child();
      kept = c;
      co_return co_await c;
    };
    auto f = coflow::spawn(io, body(), asio::use_future);
    io.run();
    BOOST_TEST(f.get() == 3);
  }
  BOOST_TEST(kept.called());
  BOOST_TEST((kept.get_executor() == asio::any_io_executor(io.get_executor())));
  int seen = 0;
  kept.async_wait([&](std::exception_ptr, int v) { seen = v; });
  io.restart();
  io.run();
  BOOST_TEST(seen == 3);
}

BOOST_AUTO_TEST_CASE(a_throwing_parameter_copy_frees_the_frame)
{
  // The ramp fails after the frame's allocation and before its promise.
  struct throws_on_move
  {
    throws_on_move() = default;
    throws_on_move(throws_on_move&&) { throw std::runtime_error("move"); }
  };
  struct make
  {
    static coroutine<int> with(throws_on_move) { co_return 1; }
  };
  BOOST_CHECK_THROW((void)make::with(throws_on_move{}), std::runtime_error);
  // The next coroutine claims its own block, not the failed one.
  asio::io_context io;
  auto child = []() -> coroutine<int> { co_return 2; };
  auto f = coflow::spawn(io, child(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(pausing, io_fixture)

BOOST_AUTO_TEST_CASE(result_held_until_unpause)
{
  deferred<std::string> d(io);
  std::string seen;
  auto body = [&]() -> coroutine<void> {
    seen = co_await d;
  };
  auto c = coflow::spawn(io, body());
  poll();
  c.pause();
  BOOST_TEST(d.pause_count() == 1u); // forwarded once
  c.pause();
  BOOST_TEST(d.pause_count() == 1u);
  d.callback("intact");
  poll();
  BOOST_TEST(seen.empty());
  c.unpause(); // x2 / x1: still held
  poll();
  BOOST_TEST(seen.empty());
  c.unpause();
  BOOST_TEST(seen.empty()); // never inside unpause()
  BOOST_TEST(d.pause_count() == 0u);
  io.run();
  BOOST_TEST(seen == "intact");
  BOOST_CHECK_THROW(c.unpause(), std::logic_error);
  BOOST_TEST(c.pause_count() == 0u);
}

BOOST_AUTO_TEST_CASE(pause_cascades_to_children)
{
  deferred<int> d(io);
  auto c = coflow::spawn(io, twice(d));
  poll();
  c.pause();
  BOOST_TEST(d.pause_count() == 1u); // root -> add_one -> d
  c.unpause();
  BOOST_TEST(d.pause_count() == 0u);
  d.callback(1);
  auto f = c.async_wait(asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 4);
}

BOOST_AUTO_TEST_CASE(pause_before_start_holds_the_start)
{
  bool ran = false;
  auto body = [&]() -> coroutine<void> {
    ran = true;
    co_return;
  };
  auto c = body();
  c.pause();
  (void)coflow::spawn(io, c);
  poll();
  BOOST_TEST(!ran);
  c.unpause();
  BOOST_TEST(!ran);
  io.run();
  BOOST_TEST(ran);
}

BOOST_AUTO_TEST_CASE(own_result_held_while_paused)
{
  deferred<int> d(io);
  auto c = coflow::spawn(io, add_one(d));
  int seen = 0;
  c.async_wait([&](std::exception_ptr, int v) { seen = v; });
  poll();
  c.pause();
  d.callback(1);
  poll();
  BOOST_TEST(seen == 0);
  BOOST_TEST(!c.called());
  c.unpause();
  io.run();
  BOOST_TEST(seen == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(cancelling, io_fixture)

BOOST_AUTO_TEST_CASE(innermost_first)
{
  event_log log;
  deferred<int> leaf(io, [&](deferred<int>&) { log.push_back("canceller"); });
  auto a = coflow::spawn(io, level(log, "A", 2, leaf));
  std::exception_ptr result;
  a.async_wait([&](std::exception_ptr e, int) {
    log.push_back("consumer");
    result = e;
  });
  poll();
  a.cancel();
  BOOST_TEST((log == event_log{"canceller"})); // no coroutine code inside cancel()
  io.run();
  BOOST_TEST((log == event_log{"canceller", "A'' cleanup", "A' cleanup", "A cleanup", "consumer"}));
  BOOST_TEST(holds<coflow::cancelled_error>(result));
}

BOOST_AUTO_TEST_CASE(third_party_cancel_of_a_child)
{
  deferred<int> d(io);
  auto child = coflow::spawn(io, add_one(d));
  std::string outcome;
  auto parent = [&]() -> coroutine<int> {
    try
    {
      co_await child;
    }
    catch (const coflow::cancelled_error&)
    {
      outcome = "caught";
    }
    co_return 7; // carries on
  };
  auto p = coflow::spawn(io, parent());
  poll();
  child.cancel();
  auto f = p.async_wait(asio::use_future);
  io.run();
  BOOST_TEST(outcome == "caught");
  BOOST_TEST(f.get() == 7);
}

BOOST_AUTO_TEST_CASE(cancel_while_paused_unwinds_at_once)
{
  event_log log;
  deferred<int> leaf(io);
  auto a = coflow::spawn(io, level(log, "A", 1, leaf));
  poll();
  a.pause();
  BOOST_TEST(leaf.pause_count() == 1u);
  a.cancel();
  BOOST_TEST(leaf.pause_count() == 0u); // the forwarded pause was released
  auto f = a.async_wait(asio::use_future);
  io.run();
  BOOST_TEST((log == event_log{"A' cleanup", "A cleanup"}));
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
  BOOST_CHECK_NO_THROW(a.unpause()); // balances the count
}

BOOST_AUTO_TEST_CASE(sticky_and_result_always_cancelled)
{
  deferred<int> first(io), second(io);
  second.callback(1);
  bool second_threw = false;
  auto body = [&]() -> coroutine<int> {
    try
    {
      co_await first;
    }
    catch (const coflow::cancelled_error&)
    {
    }
    try
    {
      co_await second; // already fired: would not even suspend
    }
    catch (const coflow::cancelled_error&)
    {
      second_threw = true;
    }
    auto ex = co_await coflow::this_coro::executor; // exempt
    (void)ex;
    co_return 5; // swallowed the cancel: still cancelled
  };
  auto c = coflow::spawn(io, body());
  poll();
  c.cancel();
  auto f = c.async_wait(asio::use_future);
  io.run();
  BOOST_TEST(second_threw);
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
}

BOOST_AUTO_TEST_CASE(cancel_before_start_never_runs_the_body)
{
  bool ran = false;
  int destroyed = 0;
  struct param
  {
    int* count;
    explicit param(int* c) : count(c) {}
    param(param&& o) noexcept : count(std::exchange(o.count, nullptr)) {}
    ~param()
    {
      if (count)
        ++*count;
    }
  };
  auto body = [&](param) -> coroutine<void> {
    ran = true;
    co_return;
  };
  auto c = coflow::spawn(io, body(param(&destroyed)));
  c.cancel();
  auto f = c.async_wait(asio::use_future);
  io.run();
  BOOST_TEST(!ran);
  BOOST_TEST(destroyed == 1);
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
}

BOOST_AUTO_TEST_CASE(self_cancel_at_next_suspension)
{
  coroutine<void> self;
  bool reached = false;
  auto body = [&]() -> coroutine<void> {
    self.cancel(); // from inside: takes effect at the next suspension point
    reached = true;
    co_await coflow::this_coro::executor;
    deferred<int> d(io);
    d.callback(1);
    co_await d;
  };
  self = body();
  (void)coflow::spawn(io, self);
  auto f = self.async_wait(asio::use_future);
  io.run();
  BOOST_TEST(reached);
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(interop)

BOOST_FIXTURE_TEST_CASE(awaited_from_asio_awaitable, io_fixture)
{
  deferred<int> d(io);
  int seen = 0;
  asio::co_spawn(io,
      [&]() -> asio::awaitable<void> {
        seen = co_await coflow::spawn(io, twice(d)).async_wait(asio::use_awaitable);
      },
      asio::detached);
  asio::post(io, [&] { d.callback(4); });
  io.run();
  BOOST_TEST(seen == 10);
}

BOOST_AUTO_TEST_CASE(awaitable_operators_cancel_the_cascade)
{
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  event_log log;
  deferred<int> leaf(io, [&](deferred<int>&) { log.push_back("canceller"); });
  asio::co_spawn(io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(io, std::chrono::milliseconds(1));
        auto c = coflow::spawn(io, level(log, "C", 1, leaf));
        auto r = co_await (c.async_wait(asio::use_awaitable) || t.async_wait(asio::use_awaitable));
        log.push_back(r.index() == 1 ? "timer won" : "coroutine won");
      },
      asio::detached);
  io.run();
  BOOST_TEST((log == event_log{"canceller", "C' cleanup", "C cleanup", "timer won"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifetime)

BOOST_AUTO_TEST_CASE(context_destruction_destroys_suspended_frames)
{
  event_log log;
  {
    asio::io_context io;
    deferred<int> never(io);
    (void)coflow::spawn(io, level(log, "L", 2, never));
    io.poll();
    BOOST_TEST(log.empty());
  }
  BOOST_TEST((log == event_log{"L'' cleanup", "L' cleanup", "L cleanup"}));
}

BOOST_AUTO_TEST_CASE(context_destruction_with_a_resumption_queued_in_a_strand)
{
  // The strand's service is built after coflow's registry, so it shuts down
  // first, and destroys the queued resumption before the registry tells a
  // shutdown: the coroutine is resumed with the dropped-handler error,
  // posted to the strand, which drops that post at once. It used to be
  // posted again without end (a stack overflow); now it is abandoned.
  event_log log;
  {
    asio::io_context io;
    (void)coflow::spawn(io, []() -> coroutine<void> { co_return; }()); // the registry
    io.run();
    io.restart();
    auto strand = asio::make_strand(io);
    auto yields = [&]() -> coroutine<void> {
      cleanup c{log, "body"};
      co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
      log.push_back("resumed");
    };
    (void)coflow::spawn(strand, yields());
    io.run_one(); // the body posts its resumption into the strand
    BOOST_TEST(log.empty());
  }
  BOOST_TEST((log == event_log{"body cleanup"}));
}

BOOST_AUTO_TEST_CASE(context_destruction_with_handles_of_inline_children)
{
  // Children started inline run on borrowed references; a handle to one of
  // them, kept outside, survives the unwinding of the whole chain.
  event_log log;
  coroutine<int> middle;
  {
    asio::io_context io;
    deferred<int> never(io);
    auto body = [&]() -> coroutine<int> {
      cleanup c{log, "root"};
      middle = level(log, "M", 1, never);
      co_return co_await middle;
    };
    (void)coflow::spawn(io, body());
    io.poll();
    BOOST_TEST(log.empty());
  }
  BOOST_TEST((log == event_log{"M' cleanup", "M cleanup", "root cleanup"}));
  BOOST_TEST(middle.started());
  BOOST_TEST(!middle.called());
}

BOOST_AUTO_TEST_CASE(context_destruction_destroys_paused_frames)
{
  event_log log;
  {
    asio::io_context io;
    deferred<int> d(io);
    auto c = coflow::spawn(io, level(log, "P", 0, d));
    io.poll();
    io.restart();
    c.pause();
    d.callback(1); // held by the pause
    io.poll();
    BOOST_TEST(log.empty());
  }
  BOOST_TEST((log == event_log{"P cleanup"}));
}

BOOST_AUTO_TEST_SUITE_END()

// Found by using coflow as a new user would (issue 10): each case failed
// before its fix.
BOOST_AUTO_TEST_SUITE(real_use)

using coflow_test::run_until_quiet;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(cancel_after_a_held_completion_and_its_timer_are_gone)
{
  // The operation's cancellation handler stays in the slot after the
  // operation completed; the timer it refers to is then destroyed.
  asio::io_context io;
  auto timer = std::make_unique<asio::steady_timer>(io, asio::steady_timer::clock_type::now() - 1s);
  coroutine<void> self;
  auto body = [&]() -> coroutine<void> {
    self.pause(); // takes effect at the next suspension: the wake-up is held
    co_await timer->async_wait(coflow::use_coroutine);
  };
  self = coflow::spawn(io, body());
  auto f = self.async_wait(asio::use_future);
  run_until_quiet(io); // the timer has completed; its result is held
  BOOST_TEST(!self.called());
  timer.reset();
  self.cancel(); // must not reach the destroyed timer
  io.run();
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
}

BOOST_AUTO_TEST_CASE(control_of_a_coroutine_abandoned_at_shutdown)
{
  event_log log;
  coroutine<int> kept;
  {
    asio::io_context io;
    asio::steady_timer timer(io, 1h);
    auto body = [&]() -> coroutine<int> {
      cleanup c{log, "body"};
      co_await timer.async_wait(coflow::use_coroutine);
      co_return 1;
    };
    kept = coflow::spawn(io, body());
    io.poll();
    BOOST_TEST(log.empty());
  }
  BOOST_TEST((log == event_log{"body cleanup"}));
  // A cleanup that cancels a sibling during shutdown: the awaited
  // operation's awaiter is gone with the frame.
  kept.pause();
  kept.cancel();
  kept.unpause();
  BOOST_TEST(!kept.called());
}

BOOST_FIXTURE_TEST_CASE(a_failed_suspension_releases_its_pause_target, io_fixture)
{
  coroutine<void> self;
  bool child_ran = false;
  auto child = [&]() -> coroutine<void> {
    child_ran = true;
    co_return;
  };
  auto throwing = [](auto&&) { throw std::runtime_error("initiation failed"); };
  auto body = [&]() -> coroutine<void> {
    self.pause();
    try
    {
      co_await asio::async_initiate<const coflow::use_coroutine_t, void()>(
          throwing, coflow::use_coroutine);
    }
    catch (const std::runtime_error&)
    {
    }
    co_await child(); // paused: must not start before the unpause
  };
  self = coflow::spawn(io, body());
  run_until_quiet();
  BOOST_TEST(!child_ran);
  self.unpause();
  io.run();
  BOOST_TEST(child_ran);
  BOOST_TEST(self.called());
}

BOOST_FIXTURE_TEST_CASE(cancel_leaves_a_held_result_held, io_fixture)
{
  coroutine<int> self;
  auto body = [&]() -> coroutine<int> {
    co_await asio::post(io, coflow::use_coroutine);
    self.pause(); // its end is held
    co_return 7;
  };
  self = coflow::spawn(io, body());
  int value = 0;
  std::exception_ptr error;
  self.async_wait([&](std::exception_ptr e, int v) { error = e, value = v; });
  run_until_quiet();
  BOOST_TEST(self.called()); // it has produced its result, held by the pause
  BOOST_TEST(value == 0);
  self.cancel(); // no effect on a finished coroutine
  run_until_quiet();
  BOOST_TEST(value == 0);
  self.unpause();
  io.run();
  BOOST_TEST(!error);
  BOOST_TEST(value == 7);
}

BOOST_FIXTURE_TEST_CASE(awaiting_a_handle_twice_sees_the_value_twice, io_fixture)
{
  auto make = []() -> coroutine<std::string> {
    co_return std::string(100, 'x');
  };
  coroutine<std::string> child = make();
  auto body = [&]() -> coroutine<std::string> {
    std::string a = co_await child;
    std::string b = co_await child;
    co_return a + b;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == std::string(200, 'x'));
  io.restart();
  auto g = child.async_wait(asio::use_future);
  io.run();
  BOOST_TEST(g.get() == std::string(100, 'x'));
}

/// An operation whose handler the test holds (copyable, type-erased): it can
/// complete it when and where it likes.
struct parked_operation
{
  std::function<void(boost::system::error_code)> complete;

  auto async_wait()
  {
    return asio::async_initiate<const coflow::use_coroutine_t, void(boost::system::error_code)>(
        [this](auto handler) {
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          complete = [h](boost::system::error_code ec) { (*h)(ec); };
        },
        coflow::use_coroutine);
  }
};

BOOST_FIXTURE_TEST_CASE(two_completions_delivered_inline_while_a_body_runs, io_fixture)
{
  parked_operation a, b;
  auto waiter = [](parked_operation& op) -> coroutine<int> {
    co_await op.async_wait();
    co_return 1;
  };
  auto completer = [&]() -> coroutine<int> {
    co_await asio::post(io, coflow::use_coroutine);
    // Both complete inside this body's run: each resumption is queued.
    asio::dispatch(io, [&] { a.complete({}); });
    asio::dispatch(io, [&] { b.complete({}); });
    co_return 1;
  };
  auto fa = coflow::spawn(io, waiter(a), asio::use_future);
  auto fb = coflow::spawn(io, waiter(b), asio::use_future);
  auto fc = coflow::spawn(io, completer(), asio::use_future);
  run_until_quiet(); // a lost coroutine would keep run() waiting forever
  for (auto* f : {&fa, &fb, &fc})
  {
    BOOST_REQUIRE(f->wait_for(0s) == std::future_status::ready);
    BOOST_TEST(f->get() == 1);
  }
}

BOOST_AUTO_TEST_CASE(a_cancellation_handler_that_completes_inline)
{
  asio::io_context io;
  bool inside_cancel = false;
  bool unwound_inside_cancel = true;
  auto op = [&](auto handler) {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    asio::get_associated_cancellation_slot(*h).assign([&io, h](asio::cancellation_type) {
      asio::dispatch(io, [h] { (*h)(boost::system::error_code(asio::error::operation_aborted)); });
    });
  };
  auto body = [&]() -> coroutine<void> {
    try
    {
      co_await asio::async_initiate<const coflow::use_coroutine_t,
          void(boost::system::error_code)>(op, coflow::use_coroutine);
    }
    catch (const coflow::cancelled_error&)
    {
      unwound_inside_cancel = inside_cancel;
      throw;
    }
  };
  auto c = coflow::spawn(io, body());
  auto f = c.async_wait(asio::use_future);
  asio::post(io, [&] {
    asio::post(io, [&] { // the body has suspended
      inside_cancel = true;
      c.cancel(); // the handler is dispatched inline, inside this call
      inside_cancel = false;
    });
  });
  io.run();
  BOOST_TEST(!unwound_inside_cancel);
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
}

BOOST_AUTO_TEST_CASE(an_initiation_that_hands_its_handler_on_then_throws)
{
  // The exception wins, at the co_await; the handler that went on is stale:
  // calling or dropping it later touches nothing of the coroutine.
  for (bool call_it_later : {false, true})
  {
    asio::io_context io;
    deferred<int> later(io);
    int caught = 0;
    auto op = [&](auto handler) {
      asio::post(io, [h = std::move(handler), call_it_later]() mutable {
        if (call_it_later)
          h(boost::system::error_code());
      });
      throw std::runtime_error("after the hand-over");
    };
    auto body = [&]() -> coroutine<int> {
      try
      {
        co_await asio::async_initiate<const coflow::use_coroutine_t,
            void(boost::system::error_code)>(op, coflow::use_coroutine);
      }
      catch (const std::runtime_error&)
      {
        ++caught;
      }
      co_return co_await later; // suspended elsewhere when the stale handler runs
    };
    auto f = coflow::spawn(io, body(), asio::use_future);
    run_until_quiet(io);
    BOOST_TEST(caught == 1);
    later.callback(5);
    io.run();
    BOOST_TEST(f.get() == 5);
  }
}

BOOST_FIXTURE_TEST_CASE(a_handler_dropped_inside_the_initiation, io_fixture)
{
  auto body = [&]() -> coroutine<int> {
    co_await asio::async_initiate<const coflow::use_coroutine_t, void()>(
        [](auto handler) { (void)std::move(handler); }, coflow::use_coroutine);
    co_return 1;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_CHECK_THROW(f.get(), std::logic_error);
}

/// One level of a deep chain: counts its live frames.
coroutine<int> chain_level(int n, deferred<int> leaf, long& alive)
{
  struct counted
  {
    long& alive;
    explicit counted(long& a) : alive(++a) {}
    ~counted() { --alive; }
  } frame_alive{alive};
  if (n == 0)
    co_return co_await leaf;
  co_return 1 + co_await chain_level(n - 1, leaf, alive);
}

BOOST_AUTO_TEST_CASE(every_cascade_runs_in_constant_stack)
{
  // pause, unpause, cancel and context destruction of 200 000 nested awaits
  // (each used to recurse once per level and overflowed the stack).
  const int depth = static_cast<int>(coflow_test::scaled_for_valgrind(200000));
  for (const char* what : {"pause", "cancel", "cancel paused", "shutdown"})
  {
    BOOST_TEST_CONTEXT(what)
    {
      long alive = 0;
      std::future<int> f;
      {
        asio::io_context io;
        deferred<int> leaf(io);
        auto c = coflow::spawn(io, chain_level(depth, leaf, alive));
        f = c.async_wait(asio::use_future);
        io.poll();
        io.restart();
        BOOST_TEST(alive == depth + 1);
        const std::string w = what;
        if (w == "pause")
        {
          c.pause();
          c.unpause();
          leaf.callback(1);
        }
        else if (w == "cancel")
          c.cancel();
        else if (w == "cancel paused")
        {
          c.pause();
          c.cancel();
        }
        if (w != "shutdown")
          io.run();
      }
      BOOST_TEST(alive == 0); // every frame destroyed
      const std::string w = what;
      if (w == "pause")
        BOOST_TEST(f.get() == depth + 1);
      else if (w == "shutdown")
        BOOST_CHECK_THROW(f.get(), std::future_error); // never completed
      else
        BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_handler_dropped_after_the_initiation_returned)
{
  // Outside the context's shutdown, nothing will ever resume the body: it
  // resumes with std::logic_error at its co_await, and unwinds or recovers.
  asio::io_context io;
  event_log log;
  auto drop_later = [&io](auto handler) {
    asio::post(io, [h = std::make_shared<decltype(handler)>(std::move(handler))] {});
  };
  auto op = [&] {
    return asio::async_initiate<const coflow::use_coroutine_t, void()>(
        drop_later, coflow::use_coroutine);
  };
  auto recovers = [&]() -> coroutine<int> {
    try
    {
      co_await op();
    }
    catch (const std::logic_error& e)
    {
      log.push_back(e.what());
    }
    co_return 7;
  };
  auto unwinds = [&]() -> coroutine<int> {
    cleanup c{log, "child"};
    co_await op();
    co_return 1;
  };
  auto parent = [&]() -> coroutine<int> {
    cleanup c{log, "parent"};
    co_return co_await unwinds();
  };
  auto f1 = coflow::spawn(io, recovers(), asio::use_future);
  auto f2 = coflow::spawn(io, parent(), asio::use_future);
  run_until_quiet(io); // nothing is left waiting
  BOOST_REQUIRE(f1.wait_for(0s) == std::future_status::ready);
  BOOST_REQUIRE(f2.wait_for(0s) == std::future_status::ready);
  BOOST_TEST(f1.get() == 7);
  BOOST_CHECK_THROW(f2.get(), std::logic_error);
  BOOST_TEST((log == event_log{
      "coflow: the awaited operation destroyed its handler without calling it",
      "child cleanup", "parent cleanup"}));
}

BOOST_AUTO_TEST_SUITE_END()

// DESIGN.md section 4, cancel(): a deferred that has already fired and is held
// only by someone else's pause does not delay the cancel of a coroutine that
// waits on it. Its result can no longer touch the frame: the coroutine drops
// its consumer link and unwinds at once; the deferred and its other consumers
// are not disturbed.
BOOST_AUTO_TEST_SUITE(cancel_of_a_wait_on_a_held_deferred)

using coflow_test::run_until_quiet;

namespace {

coroutine<int> logged_await(event_log& log, std::string name, deferred<int> d)
{
  cleanup c{log, name};
  co_return co_await d;
}

/// Logs what a consumer of a coroutine<int> or deferred<int> receives.
auto log_result(event_log& log, std::string name)
{
  return [&log, name](std::exception_ptr e, int v) {
    if (!e)
      log.push_back(name + ": " + std::to_string(v));
    else
      log.push_back(name + (holds<coflow::cancelled_error>(e) ? ": cancelled" : ": error"));
  };
}

} // namespace

BOOST_FIXTURE_TEST_CASE(held_by_a_pause_of_the_deferred, io_fixture)
{
  event_log log;
  deferred<int> d(io);
  d.async_wait(log_result(log, "before"));
  auto c = coflow::spawn(io, logged_await(log, "body", d));
  c.async_wait(log_result(log, "c"));
  run_until_quiet();
  d.async_wait(log_result(log, "after"));
  d.pause();
  d.callback(5); // fired; the pause holds the result
  run_until_quiet();
  BOOST_TEST(log.empty());
  c.cancel();
  run_until_quiet();
  BOOST_TEST((log == event_log{"body cleanup", "c: cancelled"}));
  BOOST_TEST(d.pause_count() == 1u); // the deferred is not disturbed
  d.unpause();
  run_until_quiet();
  BOOST_TEST((log == event_log{"body cleanup", "c: cancelled", "before: 5", "after: 5"}));
}

BOOST_AUTO_TEST_CASE(held_by_a_paused_sibling)
{
  // The pause of a coroutine that waits on a shared deferred pauses that
  // deferred for everyone; a cancelled sibling still unwinds at once.
  asio::io_context io;
  event_log log;
  deferred<int> d(io);
  auto a = coflow::spawn(io, logged_await(log, "a body", d));
  auto b = coflow::spawn(io, logged_await(log, "b body", d));
  a.async_wait(log_result(log, "a"));
  b.async_wait(log_result(log, "b"));
  run_until_quiet(io);
  a.pause();
  BOOST_TEST(d.pause_count() == 1u);
  d.callback(8);
  run_until_quiet(io);
  BOOST_TEST(log.empty()); // held for b too
  b.cancel();
  run_until_quiet(io);
  BOOST_TEST((log == event_log{"b body cleanup", "b: cancelled"}));
  a.unpause();
  run_until_quiet(io);
  BOOST_TEST((log == event_log{"b body cleanup", "b: cancelled", "a body cleanup", "a: 8"}));
}

BOOST_FIXTURE_TEST_CASE(a_fallback_that_the_canceller_fires_while_paused, io_fixture)
{
  event_log log;
  deferred<int> d(io, [](deferred<int>& self) { self.callback(-1); });
  auto c = coflow::spawn(io, logged_await(log, "body", d));
  c.async_wait(log_result(log, "c"));
  d.async_wait(log_result(log, "other"));
  run_until_quiet();
  d.pause();
  c.cancel(); // the canceller fires the fallback, which the pause holds
  BOOST_TEST(d.called());
  run_until_quiet();
  BOOST_TEST((log == event_log{"body cleanup", "c: cancelled"}));
  d.unpause();
  run_until_quiet();
  BOOST_TEST((log == event_log{"body cleanup", "c: cancelled", "other: -1"}));
}

BOOST_AUTO_TEST_CASE(held_in_an_inner_deferred)
{
  // The awaited deferred waits on an inner one that has fired and is paused.
  asio::io_context io;
  event_log log;
  deferred<int> outer(io), inner(io);
  inner.pause();
  inner.callback(3);
  outer.add_callback([&](int) { return inner; });
  outer.callback(0);
  auto c = coflow::spawn(io, logged_await(log, "body", outer));
  c.async_wait(log_result(log, "c"));
  outer.async_wait(log_result(log, "other"));
  run_until_quiet(io);
  BOOST_TEST(log.empty());
  c.cancel();
  run_until_quiet(io);
  BOOST_TEST((log == event_log{"body cleanup", "c: cancelled"}));
  inner.unpause();
  run_until_quiet(io);
  BOOST_TEST((log == event_log{"body cleanup", "c: cancelled", "other: 3"}));
}

BOOST_AUTO_TEST_CASE(a_deferred_of_another_executor)
{
  asio::io_context io, other_io;
  event_log log;
  deferred<int> d(other_io);
  auto c = coflow::spawn(io, logged_await(log, "body", d));
  c.async_wait(log_result(log, "c"));
  auto both_quiet = [&] {
    for (int i = 0; i < 4; ++i)
    {
      run_until_quiet(io);
      run_until_quiet(other_io);
    }
  };
  both_quiet();
  d.pause();
  d.callback(4);
  both_quiet();
  BOOST_TEST(log.empty());
  c.cancel();
  both_quiet();
  BOOST_TEST((log == event_log{"body cleanup", "c: cancelled"}));
  d.unpause();
  both_quiet();
  BOOST_TEST(log.size() == 2u);
}

BOOST_AUTO_TEST_CASE(an_unfired_paused_deferred_still_fails_at_once)
{
  // Unchanged: a plain deferred whose canceller does not fire it fails with
  // cancelled_error at once, despite the pause.
  asio::io_context io;
  event_log log;
  deferred<int> d(io);
  auto c = coflow::spawn(io, logged_await(log, "body", d));
  c.async_wait(log_result(log, "c"));
  d.async_wait(log_result(log, "other"));
  run_until_quiet(io);
  d.pause();
  c.cancel();
  BOOST_TEST(d.called());
  run_until_quiet(io);
  BOOST_TEST(log.size() == 3u);
  BOOST_TEST(std::count(log.begin(), log.end(), "other: cancelled") == 1);
  BOOST_TEST(std::count(log.begin(), log.end(), "c: cancelled") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
