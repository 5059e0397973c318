//
// test/coroutine_executors.cpp: coroutines and deferreds on other executors
// than the coroutine awaiting them (a strand of a thread_pool, a second
// io_context on its own thread). The cascade is posted to the target's
// executor, the resumption to the awaiter's. Run under TSan by the test
// command.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE coroutine_executors
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/spawn.hpp>
#include <coflow/this_coro.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <array>
#include <atomic>
#include <future>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow::coroutine;
using coflow::deferred;

namespace {

/// A log written from several threads.
class event_log
{
public:
  void add(std::string s)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(s));
  }

  std::vector<std::string> events() const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }

private:
  mutable std::mutex mutex_;
  std::vector<std::string> events_;
};

struct cleanup
{
  event_log& log;
  std::string name;
  ~cleanup() { log.add(name + " cleanup"); }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(cancel_reaches_a_child_on_a_pool_strand, io_fixture)
{
  asio::thread_pool pool(2);
  auto strand = asio::make_strand(pool);
  event_log log;
  std::atomic<int> iterations{0};
  coroutine<void> parent;

  auto child_body = [&]() -> coroutine<int> {
    cleanup c{log, "child"};
    for (;;)
    {
      BOOST_TEST(strand.running_in_this_thread());
      asio::steady_timer t(strand, std::chrono::milliseconds(1));
      co_await t.async_wait(coflow::use_coroutine);
      if (++iterations == 3)
        asio::post(io, [&] { parent.cancel(); }); // from the parent's executor
    }
  };
  auto child = coflow::spawn(strand, child_body());

  auto parent_body = [&]() -> coroutine<void> {
    cleanup c{log, "parent"};
    co_await child; // started, on another executor
  };
  parent = parent_body();
  (void)coflow::spawn(io, parent);
  auto f = parent.async_wait(asio::use_future);
  io.run();
  pool.join();

  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
  BOOST_TEST(iterations.load() >= 3);
  BOOST_TEST((log.events() == std::vector<std::string>{"child cleanup", "parent cleanup"}));
}

BOOST_FIXTURE_TEST_CASE(pause_reaches_a_child_on_a_pool_strand, io_fixture)
{
  asio::thread_pool pool(2);
  auto strand = asio::make_strand(pool);
  deferred<int, decltype(strand)> go(strand);
  std::promise<unsigned> seen_on_strand;

  // Named lambdas: a coroutine lambda's captures live in the closure, which
  // must outlive the coroutine.
  auto child_body = [&]() -> coroutine<int> { co_return co_await go + 1; };
  auto child = coflow::spawn(strand, child_body());
  auto parent_body = [&]() -> coroutine<int> { co_return co_await child * 10; };
  auto parent = coflow::spawn(io, parent_body());

  asio::post(io, [&] {
    parent.pause(); // dispatched to the child's strand
    asio::post(strand, [&] {
      // Ordered after the dispatched pause on the strand.
      seen_on_strand.set_value(child.pause_count());
      go.callback(4); // held: the child is paused
      asio::post(io, [&] { parent.unpause(); });
    });
  });
  auto f = parent.async_wait(asio::use_future);
  io.run();
  pool.join();
  BOOST_TEST(seen_on_strand.get_future().get() == 1u);
  BOOST_TEST(f.get() == 50);
}

BOOST_AUTO_TEST_CASE(child_on_a_second_io_context)
{
  asio::io_context io, io2;
  auto work = asio::make_work_guard(io2);
  std::thread other([&] { io2.run(); });
  deferred<std::string> d(io2);

  auto child_body = [&]() -> coroutine<std::string> { co_return co_await d + "!"; };
  auto child = coflow::spawn(io2, child_body());
  auto parent_body = [&]() -> coroutine<std::string> {
    std::string s = co_await child;
    co_return s + "?";
  };
  auto parent = coflow::spawn(io, parent_body());
  asio::post(io2, [&] { d.callback("hello"); });
  auto f = parent.async_wait(asio::use_future);
  io.run();
  work.reset();
  other.join();
  BOOST_TEST(f.get() == "hello!?");
}

BOOST_FIXTURE_TEST_CASE(deferred_on_a_strand_cancelled_from_a_coroutine, io_fixture)
{
  asio::thread_pool pool(2);
  auto strand = asio::make_strand(pool);
  std::atomic<bool> canceller_on_strand{false};
  deferred<int, decltype(strand)> d(strand, [&](deferred<int, decltype(strand)>&) {
    canceller_on_strand = strand.running_in_this_thread();
  });
  auto body = [&]() -> coroutine<int> { co_return co_await d; };
  auto c = coflow::spawn(io, body());
  asio::post(io, [&] { c.cancel(); });
  auto f = c.async_wait(asio::use_future);
  io.run();
  pool.join();
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
  BOOST_TEST(canceller_on_strand.load());
}

BOOST_AUTO_TEST_CASE(last_handle_dropped_on_another_thread_as_the_body_ends)
{
  // This thread drops the last handle as the body ends on a pool thread,
  // with nothing ordering the two (the body's signal is a relaxed store):
  // the coroutine state may die here while the pool thread frees the frame's part of
  // the block. The two must never touch the block at once: TSan reports it
  // in the tsan stage, and a double free or a leak of the block would show
  // under ASan or valgrind. Every frame must be destroyed once.
  struct frame_count
  {
    std::atomic<int>& destroyed;
    ~frame_count() { ++destroyed; }
  };
  struct bodies
  {
    static coroutine<int> signal_then_end(std::atomic<bool>& ending, std::atomic<int>& destroyed)
    {
      frame_count counted{destroyed};
      ending.store(true, std::memory_order_relaxed);
      co_return 1;
    }
  };
  constexpr int rounds = 2000;
  std::atomic<int> destroyed{0};
  asio::thread_pool pool(1);
  for (int i = 0; i < rounds; ++i)
  {
    std::atomic<bool> ending{false};
    auto c = coflow::spawn(pool.get_executor(), bodies::signal_then_end(ending, destroyed));
    while (!ending.load(std::memory_order_relaxed))
      std::this_thread::yield();
    c = {};
    // The next round's flag may reuse this one's storage: wait until the
    // body is surely done with it (its frame is destroyed).
    while (destroyed.load() != i + 1)
      std::this_thread::yield();
  }
  pool.join();
  BOOST_TEST(destroyed.load() == rounds);
}

BOOST_AUTO_TEST_SUITE(without_a_strand)

// A coroutine is one thread of execution, as an asio::awaitable is: it may
// run on a multi-threaded executor without a strand. An operation then
// completes on another thread while await_suspend is still running.

coroutine<int> post_loop(asio::thread_pool::executor_type ex, int rounds)
{
  int n = 0;
  for (int i = 0; i < rounds; ++i)
  {
    co_await asio::post(ex, coflow::use_coroutine);
    ++n;
  }
  co_return n;
}

coroutine<int> nested_post_loop(asio::thread_pool::executor_type ex, int rounds)
{
  int n = 0;
  for (int i = 0; i < rounds; ++i)
    n += co_await post_loop(ex, 2); // a child that suspends while nested
  co_return n;
}

BOOST_AUTO_TEST_CASE(operations_complete_on_another_thread_during_the_suspension)
{
  asio::thread_pool pool(2);
  std::vector<std::future<int>> results;
  for (int i = 0; i < 40; ++i)
  {
    results.push_back(coflow::spawn(pool, post_loop(pool.get_executor(), 500), asio::use_future));
    results.push_back(
        coflow::spawn(pool, nested_post_loop(pool.get_executor(), 250), asio::use_future));
  }
  for (auto& r : results)
    BOOST_TEST(r.get() == 500);
  pool.join();
}

/// A recursion deeper than the nesting bound (32) whose levels suspend on
/// the pool: at the leaf, and on the way back at every 37th level. Levels
/// beyond the bound park on the pump while their descendants run; a leaf's
/// completion on the other thread races the parked levels' publication.
/// With @p leaf_waits, the leaf waits for an hour instead.
coroutine<int> deep_post(asio::thread_pool::executor_type ex, int n, bool leaf_waits = false)
{
  if (n == 0)
  {
    if (leaf_waits)
    {
      asio::steady_timer timer(ex, std::chrono::hours(1));
      co_await timer.async_wait(coflow::use_coroutine);
    }
    else
      co_await asio::post(ex, coflow::use_coroutine);
    co_return 0;
  }
  const int below = co_await deep_post(ex, n - 1, leaf_waits);
  if (n % 37 == 0)
    co_await asio::post(ex, coflow::use_coroutine);
  co_return below + 1;
}

BOOST_AUTO_TEST_CASE(deep_recursion_suspends_and_completes_on_another_thread)
{
  asio::thread_pool pool(2);
  std::vector<coroutine<int>> cs;
  std::vector<std::future<int>> results;
  for (int i = 0; i < 60; ++i)
  {
    // The consumer comes with the spawn: a coroutine's deferred side is
    // used from its executor, its control calls from anywhere.
    cs.push_back(deep_post(pool.get_executor(), 100 + i));
    results.push_back(coflow::spawn(pool, cs.back(), asio::use_future));
  }
  // Control calls from this third thread while the chains run: the
  // pauses are balanced, so every chain still delivers its depth.
  for (int round = 0; round < 50; ++round)
    for (auto& c : cs)
    {
      c.pause();
      c.unpause();
    }
  for (int i = 0; i < 60; ++i)
    BOOST_TEST(results[i].get() == 100 + i);
  pool.join();
}

BOOST_AUTO_TEST_CASE(deep_recursion_cancelled_from_another_thread)
{
  // Cancelled from this third thread, wherever each chain is: being built
  // (levels parked), or all suspended; every chain unwinds, once.
  asio::thread_pool pool(2);
  std::vector<coroutine<int>> cs;
  std::vector<std::future<int>> results;
  for (int i = 0; i < 60; ++i)
  {
    cs.push_back(deep_post(pool.get_executor(), 200 + i, true));
    results.push_back(coflow::spawn(pool, cs.back(), asio::use_future));
    if (i % 2)
      cs[i - 1].cancel();
  }
  for (int i = 0; i < 60; i += 2)
    BOOST_CHECK_THROW(results[i].get(), coflow::cancelled_error);
  for (int i = 1; i < 60; i += 2)
    cs[i].cancel();
  for (int i = 1; i < 60; i += 2)
    BOOST_CHECK_THROW(results[i].get(), coflow::cancelled_error);
  pool.join();
}

BOOST_FIXTURE_TEST_CASE(an_io_context_run_by_two_threads, io_fixture)
{
  auto body = [&]() -> coroutine<int> { // outlives every coroutine it makes
    int n = 0;
    for (int k = 0; k < 500; ++k)
    {
      co_await asio::post(io, coflow::use_coroutine);
      ++n;
    }
    co_return n;
  };
  std::vector<std::future<int>> results;
  for (int i = 0; i < 40; ++i)
    results.push_back(coflow::spawn(io, body(), asio::use_future));
  std::thread other([&] { io.run(); });
  io.run();
  other.join();
  for (auto& r : results)
    BOOST_TEST(r.get() == 500);
}

BOOST_AUTO_TEST_CASE(control_from_a_third_thread)
{
  // pause(), unpause() and cancel() from a thread outside the pool, while
  // the bodies run and suspend on the pool's two threads (DESIGN.md §4).
  asio::thread_pool pool(2);
  auto ex = pool.get_executor();
  constexpr int count = 16;
  std::array<std::atomic<int>, count> steps{};
  auto step_loop = [&](int i) -> coroutine<int> {
    for (;;)
    {
      if (i % 2)
        co_await post_loop(ex, 1); // a child that suspends
      else
        co_await asio::post(ex, coflow::use_coroutine);
      steps[i].fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::vector<coroutine<int>> cs;
  std::vector<std::future<int>> results;
  for (int i = 0; i < count; ++i)
  {
    cs.push_back(step_loop(i));
    results.push_back(coflow::spawn(pool, cs.back(), asio::use_future));
  }
  // Many rounds of pause and unpause, racing with the bodies.
  for (int round = 0; round < 200; ++round)
    for (auto& c : cs)
    {
      c.pause();
      if (round % 3)
        c.unpause();
      else
      {
        c.pause();
        c.unpause();
        c.unpause();
      }
    }
  // Paused, a body takes at most the step it is in: it stays still while
  // the pool runs thousands of other handlers.
  for (auto& c : cs)
    c.pause();
  std::array<int, count> before{};
  for (int i = 0; i < count; ++i)
    before[i] = steps[i].load();
  for (int k = 0; k < 2000; ++k)
    asio::post(pool, asio::use_future).get();
  for (int i = 0; i < count; ++i)
    BOOST_TEST(steps[i].load() - before[i] <= 2);
  // Cancel while paused: every body unwinds, every consumer gets one result.
  for (auto& c : cs)
    c.cancel();
  for (auto& r : results)
    BOOST_CHECK_THROW(r.get(), coflow::cancelled_error);
  for (auto& c : cs)
    c.unpause(); // balances the count, no error
  pool.join();
}

BOOST_AUTO_TEST_CASE(cancel_from_another_thread_races_an_operation_completing)
{
  // A coroutine on a pool thread awaits an expired timer (it completes at
  // once, on the pool thread) while the main thread cancels it at varying
  // moments. The completion used to clear the awaiter's cancellation slot
  // while the cancel, holding the coroutine state locked, emitted on it: a data race
  // (TSan), and a call into the timer's cancellation handler as it was
  // destroyed. The slot is now cleared by whoever takes the coroutine state.
  asio::thread_pool pool(1);
  std::atomic<bool> waiting{false};
  auto body = [&]() -> coroutine<int> {
    asio::steady_timer t(co_await coflow::this_coro::executor,
        std::chrono::steady_clock::time_point{}); // expired
    waiting.store(true);
    co_await t.async_wait(coflow::use_coroutine);
    co_return 1;
  };
  const int rounds = 2000; // TSan saw the race in this many; valgrind runs threads in turn
  int values = 0, cancelled = 0;
  for (int i = 0; i < rounds; ++i)
  {
    waiting.store(false);
    auto c = body();
    auto f = coflow::spawn(pool, c, asio::use_future);
    while (!waiting.load())
      std::this_thread::yield(); // lets a one-core scheduler (valgrind) run the body
    for (int k = 0; k < i % 64; ++k) // a varying moment
      std::atomic_signal_fence(std::memory_order_seq_cst);
    c.cancel();
    try
    {
      values += f.get();
    }
    catch (const coflow::cancelled_error&)
    {
      ++cancelled;
    }
  }
  BOOST_TEST(values + cancelled == rounds); // each delivered exactly once
  pool.join();
}

BOOST_AUTO_TEST_CASE(cancel_from_another_thread_races_an_awaitable_completing)
{
  // A coroutine awaits an asio::awaitable that runs its last step on the
  // pool while the main thread cancels. Boost 1.81's co_spawn cancellation
  // handler, reached from a thread outside its executor, posts the emission
  // with a pointer into itself, and the awaitable's completion then freed
  // it: heap-use-after-free (ASan, every round). The cancel is now emitted
  // on the executor, only while that await lasts.
  asio::thread_pool pool(1);
  std::atomic<int> phase{0}; // 1: the last step runs; 2: cancel() returned
  auto leaf = [&]() -> asio::awaitable<int> {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    phase.store(1);
    while (phase.load() != 2)
      std::this_thread::yield();
    co_return 1;
  };
  auto body = [&]() -> coroutine<int> { co_return co_await leaf(); };
  const int rounds = 200; // ASan failed in the first
  int values = 0, cancelled = 0;
  for (int i = 0; i < rounds; ++i)
  {
    phase.store(0);
    auto c = body();
    auto f = coflow::spawn(pool, c, asio::use_future);
    while (phase.load() != 1)
      std::this_thread::yield();
    c.cancel(); // this thread is not the pool's
    phase.store(2);
    try
    {
      values += f.get();
    }
    catch (const coflow::cancelled_error&)
    {
      ++cancelled;
    }
  }
  BOOST_TEST(values + cancelled == rounds); // each delivered exactly once
  BOOST_TEST(cancelled == rounds); // the cancel came before the result
  pool.join();
}

BOOST_AUTO_TEST_CASE(an_end_held_by_pause_is_delivered_on_another_thread)
{
  // A body that ends while paused holds its end; the frame flows off after
  // the hold, on its thread. An unpause lets the other pool thread deliver
  // the end, and the last handle goes on the main thread: that thread
  // destroyed the coroutine state (and could free the block) while the first was
  // still freeing the frame's part of it (TSan: a data race on the block's
  // count). The frame now keeps a reference until it is done.
  asio::thread_pool pool(2);
  std::atomic<int> phase{0}; // 1: the body is about to end; 2: it is paused
  auto body = [&]() -> coroutine<int> {
    co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
    phase.store(1);
    while (phase.load() != 2)
      std::this_thread::yield();
    co_return 1;
  };
  const int rounds = 5000; // TSan saw the race in a third of the runs of 2000
  int values = 0;
  for (int i = 0; i < rounds; ++i)
  {
    phase.store(0);
    std::future<int> f;
    {
      auto c = body();
      f = coflow::spawn(pool, c, asio::use_future);
      while (phase.load() != 1)
        std::this_thread::yield();
      c.pause(); // the body runs: recorded, and its end is held
      phase.store(2);
      for (int k = 0; k < i % 64; ++k) // a varying moment
        std::this_thread::yield();
      c.unpause();
    } // the handle goes, maybe the last one
    values += f.get();
  }
  BOOST_TEST(values == rounds); // each delivered exactly once
  pool.join();
}

BOOST_AUTO_TEST_CASE(a_held_wake_up_survives_an_unpause_from_another_thread)
{
  // A body whose wake-up comes while it is paused keeps it (held); an
  // unpause from another thread while its thread is still letting it go
  // released the wake-up to the other pool thread, which found the body
  // still owned and left it there, and the body was then marked suspended
  // with nobody to resume it (lost: it hung). Pauses and unpauses at
  // varying moments, until every body has finished.
  asio::thread_pool pool(2);
  constexpr int count = 8;
  constexpr long steps_each = 20000;
  std::array<std::atomic<long>, count> steps{};
  std::atomic<int> done{0};
  auto body = [&](int i) -> coroutine<int> {
    auto ex = co_await coflow::this_coro::executor;
    for (long k = 0; k < steps_each; ++k)
    {
      co_await asio::post(ex, coflow::use_coroutine);
      steps[i].fetch_add(1, std::memory_order_relaxed);
    }
    co_return 0;
  };
  std::vector<coroutine<int>> cs;
  for (int i = 0; i < count; ++i)
  {
    cs.push_back(body(i));
    coflow::spawn(pool.get_executor(), cs.back(), [&](std::exception_ptr, int) { ++done; });
  }
  auto last_progress = std::chrono::steady_clock::now();
  long last_total = -1;
  unsigned spin = 1;
  bool stuck = false;
  while (done.load() != count && !stuck)
  {
    for (auto& c : cs)
    {
      c.pause();
      for (unsigned k = 0, n = (spin = spin * 1103515245u + 12345u) >> 22; k < n; ++k)
        asm volatile("" ::: "memory"); // a varying moment, paused
      c.unpause();
    }
    long total = 0;
    for (auto& s : steps)
      total += s.load(std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    if (total != last_total)
    {
      last_total = total;
      last_progress = now;
    }
    else
      stuck = now - last_progress > std::chrono::seconds(60); // generous: a hang, not a delay
  }
  BOOST_TEST(!stuck);
  BOOST_TEST(done.load() == count);
  if (stuck)
    pool.stop(); // a lost body never ends
  pool.join();
}

// A consumer's cancellation slot may be emitted on any thread: the cancel of
// the deferred it waits on must run on the deferred's executor, never on the
// emitting thread (the state is touched only from its executor).
BOOST_AUTO_TEST_CASE(a_slot_emitted_on_another_thread_cancels_on_the_executor)
{
  for (int round = 0; round < 50; ++round)
  {
    boost::asio::io_context io;
    auto work = boost::asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    std::promise<bool> canceller_on_executor;
    std::promise<std::exception_ptr> delivered;
    boost::asio::cancellation_signal signal;
    coflow::deferred<int> d(io, [&](coflow::deferred<int>&) {
      canceller_on_executor.set_value(io.get_executor().running_in_this_thread());
    });
    std::promise<void> waiting;
    boost::asio::post(io, [&] {
      d.async_wait(boost::asio::bind_cancellation_slot(signal.slot(),
          [&](std::exception_ptr e, int) { delivered.set_value(e); }));
      waiting.set_value();
    });
    waiting.get_future().get();
    signal.emit(boost::asio::cancellation_type::terminal); // from this thread
    BOOST_TEST(canceller_on_executor.get_future().get());
    BOOST_TEST(coflow_test::holds<coflow::cancelled_error>(delivered.get_future().get()));
    work.reset();
    runner.join();
  }
}

BOOST_AUTO_TEST_SUITE_END()
