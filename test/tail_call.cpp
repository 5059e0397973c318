//
// test/tail_call.cpp: coflow::tail_call (DESIGN.md section 4, "tail_call").
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE tail_call
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow_test::event_log;
using coflow::coroutine;
using coflow::deferred;
using coflow::tail_call;
using coflow_test::holds;
using coflow_test::peak_rss_kib;

namespace {

/// Logs "<name> gone" when destroyed: a frame's locals, observable.
struct noisy
{
  event_log& log;
  std::string name;
  ~noisy() { log.push_back(name + " gone"); }
};

coroutine<int> second(event_log& log, int x)
{
  log.push_back("second starts");
  co_return x * 2;
}

coroutine<int> first(event_log& log, int x)
{
  noisy local{log, "first's local"};
  log.push_back("first starts");
  co_return co_await tail_call(second(log, x + 1));
}

/// n hops, then waits on @p last (a deferred the test controls).
coroutine<int> hops_then_wait(long n, deferred<int> last)
{
  if (n == 0)
    co_return co_await last;
  co_return co_await tail_call(hops_then_wait(n - 1, last));
}

/// Spawns @p start and cancels it once it waits: the cancel must reach the
/// canceller of what the tail call handed it over to, and the result must
/// be cancelled_error.
template <class Start>
void check_cancel_goes_through(asio::io_context& io, Start start, const bool& cancelled_the_wait)
{
  io.restart();
  auto c = coflow::spawn(io, start());
  io.poll();
  io.restart();
  std::exception_ptr error;
  c.async_wait([&](std::exception_ptr x, int) { error = x; });
  c.cancel();
  io.run();
  BOOST_TEST(cancelled_the_wait);
  BOOST_TEST(holds<coflow::cancelled_error>(error));
}

} // namespace

BOOST_AUTO_TEST_SUITE(unstarted_next_state)

BOOST_FIXTURE_TEST_CASE(caller_locals_go_before_the_next_state_starts, io_fixture)
{
  event_log log;
  auto f = coflow::spawn(io, first(log, 1), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 4);
  BOOST_TEST((log == event_log{"first starts", "first's local gone", "second starts"}));
}

BOOST_FIXTURE_TEST_CASE(the_handle_fires_once_with_the_last_state, io_fixture)
{
  deferred<int> last(io);
  auto c = coflow::spawn(io, hops_then_wait(3, last));
  int deliveries = 0;
  int seen = 0;
  c.async_wait([&](std::exception_ptr, int v) {
    ++deliveries;
    seen = v;
  });
  io.poll();
  BOOST_TEST(!c.called()); // three hops done, the last state waits
  last.callback(42);
  io.restart();
  io.run();
  BOOST_TEST(c.called());
  BOOST_TEST(deliveries == 1);
  BOOST_TEST(seen == 42);
}

BOOST_FIXTURE_TEST_CASE(the_last_states_error_reaches_the_consumers, io_fixture)
{
  struct states
  {
    static coroutine<int> failing() { throw std::runtime_error("last state"); co_return 0; }
    static coroutine<int> start() { co_return co_await tail_call(failing()); }
  };
  std::exception_ptr seen;
  auto c = coflow::spawn(io, states::start());
  c.async_wait([&](std::exception_ptr e, int) { seen = e; });
  io.run();
  BOOST_TEST(holds<std::runtime_error>(seen));
}

BOOST_FIXTURE_TEST_CASE(a_parent_awaiting_a_tail_calling_child, io_fixture)
{
  event_log log;
  auto parent = [&]() -> coroutine<int> { co_return 1 + co_await first(log, 2); };
  auto f = coflow::spawn(io, parent(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 7);
}

BOOST_AUTO_TEST_CASE(pause_and_cancel_reach_the_state_after_one_and_1000_hops)
{
  for (long n : {1L, 1000L})
  {
    asio::io_context io;
    bool cancelled_the_wait = false;
    deferred<int> last(io, [&](deferred<int>&) { cancelled_the_wait = true; });
    auto c = coflow::spawn(io, hops_then_wait(n, last));
    io.poll();
    io.restart();
    c.pause();
    BOOST_TEST(last.pause_count() == 1u);
    c.unpause();
    BOOST_TEST(last.pause_count() == 0u);
    c.pause();
    last.callback(5); // held by the pause of the coroutine
    io.poll();
    io.restart();
    BOOST_TEST(!c.called());
    c.unpause();
    int seen = 0;
    c.async_wait([&](std::exception_ptr, int v) { seen = v; });
    io.run();
    BOOST_TEST(seen == 5);
    BOOST_TEST(!cancelled_the_wait);

    deferred<int> never(io, [&](deferred<int>&) { cancelled_the_wait = true; });
    check_cancel_goes_through(io, [&] { return hops_then_wait(n, never); }, cancelled_the_wait);
  }
}

BOOST_FIXTURE_TEST_CASE(a_pending_cancel_stops_the_tail_call, io_fixture)
{
  event_log log;
  struct states
  {
    static coroutine<int> next(event_log& log, noisy)
    {
      log.push_back("next runs");
      co_return 1;
    }
  };
  coroutine<int> self;
  auto body = [&]() -> coroutine<int> {
    // Made before: g++ 12 destroys a co_await expression's temporaries
    // twice when its await_resume throws (here: the pending cancel).
    auto next = states::next(log, noisy{log, "next's parameter"});
    self.cancel(); // pending at the tail call
    co_return co_await tail_call(std::move(next));
  };
  self = coflow::spawn(io, body());
  std::exception_ptr error;
  self.async_wait([&](std::exception_ptr e, int) { error = e; });
  io.run();
  BOOST_TEST(holds<coflow::cancelled_error>(error));
  BOOST_TEST(std::count(log.begin(), log.end(), "next runs") == 0);
  // The argument's temporary and the frame's copy of it: both gone.
  BOOST_TEST(std::count(log.begin(), log.end(), "next's parameter gone") >= 1);
}

BOOST_FIXTURE_TEST_CASE(a_paused_coroutine_does_not_start_the_next_state, io_fixture)
{
  event_log log;
  coroutine<int> self;
  auto body = [&]() -> coroutine<int> {
    self.pause();
    co_return co_await tail_call(second(log, 1));
  };
  self = body();
  (void)coflow::spawn(io, self);
  io.poll();
  BOOST_TEST(log.empty()); // held
  self.unpause();
  io.restart();
  int seen = 0;
  self.async_wait([&](std::exception_ptr, int v) { seen = v; });
  io.run();
  BOOST_TEST(seen == 2);
  BOOST_TEST((log == event_log{"second starts"}));
}

BOOST_FIXTURE_TEST_CASE(a_cancel_while_the_next_start_is_held_never_runs_it, io_fixture)
{
  event_log log;
  coroutine<int> self;
  auto body = [&]() -> coroutine<int> {
    self.pause();
    co_return co_await tail_call(second(log, 1));
  };
  self = body();
  (void)coflow::spawn(io, self);
  io.poll();
  std::exception_ptr error;
  self.async_wait([&](std::exception_ptr e, int) { error = e; });
  self.cancel();
  io.restart();
  io.run();
  BOOST_TEST(holds<coflow::cancelled_error>(error));
  BOOST_TEST(log.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(started_next_state_or_deferred)

BOOST_FIXTURE_TEST_CASE(tail_call_to_a_started_coroutine, io_fixture)
{
  deferred<int> d(io);
  bool cancelled_the_wait = false;
  deferred<int> never(io, [&](deferred<int>&) { cancelled_the_wait = true; });
  auto waiter = [](deferred<int> x) -> coroutine<int> { co_return co_await x; };
  auto body = [&](deferred<int> x) -> coroutine<int> {
    auto started = coflow::spawn(io, waiter(x));
    co_return co_await tail_call(started);
  };
  auto c = coflow::spawn(io, body(d));
  poll();
  c.pause();
  d.callback(9);
  poll();
  BOOST_TEST(!c.called()); // the pause reached it through the tail call
  c.unpause();
  int seen = 0;
  c.async_wait([&](std::exception_ptr, int v) { seen = v; });
  io.run();
  BOOST_TEST(seen == 9);

  check_cancel_goes_through(io, [&] { return body(never); }, cancelled_the_wait);
}

BOOST_AUTO_TEST_CASE(tail_call_to_a_shared_unstarted_coroutine)
{
  // Another handle exists: it is started and waited on, and both handles
  // see the result.
  asio::io_context io;
  event_log log;
  coroutine<int> other;
  auto body = [&]() -> coroutine<int> {
    other = second(log, 5);
    co_return co_await tail_call(other);
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 10);
  BOOST_TEST(other.called());
}

/// A spawned coroutine that tail-calls second(log, 5) after applying
/// @p prepare to it, and what its consumer saw.
struct tail_call_to_a_prepared_state
{
  asio::io_context io;
  event_log log;
  int deliveries = 0;
  std::exception_ptr error;
  coroutine<int> c;

  // A function, not a lambda: its parameters live in the frame.
  template <class Prepare>
  static coroutine<int> body(event_log& log, Prepare prepare)
  {
    auto next = second(log, 5);
    prepare(next);
    co_return co_await tail_call(std::move(next));
  }

  template <class Prepare>
  explicit tail_call_to_a_prepared_state(Prepare prepare)
  {
    c = coflow::spawn(io, body(log, prepare));
    c.async_wait([this](std::exception_ptr e, int) {
      ++deliveries;
      error = e;
    });
  }
};

BOOST_AUTO_TEST_CASE(a_next_state_cancelled_before_the_tail_call_never_runs)
{
  // The next state's own cancel is kept: it is not adopted into the running
  // coroutine (whose state would replace it), it completes cancelled.
  tail_call_to_a_prepared_state t([](const coroutine<int>& next) { next.cancel(); });
  t.io.run();
  BOOST_TEST(t.deliveries == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(t.error));
  BOOST_TEST(t.log.empty());
}

BOOST_AUTO_TEST_CASE(a_next_state_paused_before_the_tail_call_stays_paused)
{
  // Its own pause is kept too: it does not start, and a cancel of the
  // running coroutine reaches it (it completes without running).
  tail_call_to_a_prepared_state t([](const coroutine<int>& next) { next.pause(); });
  t.io.poll(); // not run(): the spawned coroutine keeps the context busy
  BOOST_TEST(!t.c.called());
  BOOST_TEST(t.log.empty());
  t.c.pause(); // forwarded to the next state, and back: the counts stay balanced
  t.c.unpause();
  t.io.restart();
  t.io.poll();
  BOOST_TEST(!t.c.called());
  t.c.cancel();
  t.io.restart();
  t.io.run();
  BOOST_TEST(t.deliveries == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(t.error));
  BOOST_TEST(t.log.empty());
}

BOOST_FIXTURE_TEST_CASE(tail_call_to_a_deferred, io_fixture)
{
  bool cancelled_the_wait = false;
  deferred<int> d(io);
  deferred<int> never(io, [&](deferred<int>&) { cancelled_the_wait = true; });
  auto body = [&](deferred<int> x) -> coroutine<int> { co_return co_await tail_call(x); };
  auto c = coflow::spawn(io, body(d));
  poll();
  c.pause();
  BOOST_TEST(d.pause_count() == 1u);
  c.unpause();
  d.callback(3);
  int seen = 0;
  c.async_wait([&](std::exception_ptr, int v) { seen = v; });
  io.run();
  BOOST_TEST(seen == 3);

  check_cancel_goes_through(io, [&] { return body(never); }, cancelled_the_wait);
}

BOOST_AUTO_TEST_CASE(a_million_tail_calls_to_started_coroutines)
{
  // Each state spawns the next and hands itself over to it: the hops are
  // posted, so no stack grows; and since nobody else holds a state, the
  // chain collapses as it goes (DESIGN.md): whoever waits on a state that
  // ends in a tail call waits on its next state instead, and the state
  // goes. Memory stays constant in total, not per hop.
  asio::io_context io;
  struct states
  {
    static coroutine<long> hop(asio::io_context& io, long n)
    {
      if (n == 0)
        co_return 0;
      auto next = coflow::spawn(io, hop(io, n - 1));
      co_return co_await tail_call(next);
    }
  };
  // A chain of 10^5 first, then one ten times longer: the second must not
  // raise the peak (it grew by ~930 MiB before the chain collapsed).
  auto run_chain = [&](long hops) {
    auto f = coflow::spawn(io, states::hop(io, hops), asio::use_future);
    io.restart();
    io.run();
    return f.get();
  };
  const long short_chain = coflow_test::scaled_for_valgrind(100000);
  const long long_chain = coflow_test::scaled_for_valgrind(1000000);
  const long before = peak_rss_kib();
  BOOST_TEST(run_chain(short_chain) == 0);
  const long after_short = peak_rss_kib();
  BOOST_TEST(run_chain(long_chain) == 0);
  const long growth_kib = peak_rss_kib() - after_short;
  BOOST_TEST_MESSAGE("peak RSS growth: " << after_short - before << " KiB over " << short_chain
                                         << " hops, then " << growth_kib << " KiB more over "
                                         << long_chain << " hops");
  // Not under valgrind either, where the chains are a hundredth as long.
  if (coflow_test::memory_figures_are_meaningful && !coflow_test::on_valgrind())
    BOOST_TEST(growth_kib < 4096);
}

namespace {

/// Live frames of a chain of gated hops, and the hops that passed their gate.
struct live_states
{
  static inline int count = 0;
  static inline int passed = 0;
  live_states() { ++count; }
  ~live_states() { --count; }
  live_states(const live_states&) = delete;
  live_states& operator=(const live_states&) = delete;
};

/// n hops, each spawned by the one before, each waiting on @p gate before
/// it hands over: a chain that is suspended in the middle of its hops.
coroutine<int> gated_hop(asio::io_context& io, int n, deferred<int> gate)
{
  {
    live_states alive; // gone with the frame, before the hand-over
    int v = co_await gate;
    ++live_states::passed;
    if (n == 0)
      co_return v;
  }
  auto next = coflow::spawn(io, gated_hop(io, n - 1, gate));
  co_return co_await tail_call(std::move(next));
}

} // namespace

BOOST_AUTO_TEST_CASE(a_collapsed_chain_keeps_pause_and_cancel)
{
  // The root waits, through one tail source, on whichever state is the
  // chain's end: a pause of the root reaches it, and so does a cancel.
  {
    asio::io_context io;
    deferred<int> gate(io);
    gate.callback(7);
    gate.pause(); // every hop waits here until the gate opens
    auto root = coflow::spawn(io, gated_hop(io, 50, gate));
    coflow_test::run_until_quiet(io);
    int deliveries = 0;
    int value = -1;
    root.async_wait([&](std::exception_ptr e, int v) {
      ++deliveries;
      if (!e)
        value = v;
    });
    live_states::passed = 0;
    gate.unpause();
    // Let the chain run about half-way, then pause the root: the pause goes
    // to the state running at the chain's end, and the chain stops there.
    for (int i = 0; i < 40; ++i)
      io.run_one();
    root.pause();
    io.restart();
    coflow_test::run_until_quiet(io);
    const int passed = live_states::passed;
    BOOST_TEST(passed < 51); // stopped on the way
    io.restart();
    coflow_test::run_until_quiet(io);
    BOOST_TEST(live_states::passed == passed);
    BOOST_TEST(deliveries == 0);
    BOOST_TEST(!root.called());
    BOOST_TEST(live_states::count <= 1); // the frames before the chain's end are gone
    root.unpause();
    io.restart();
    io.run();
    BOOST_TEST(deliveries == 1);
    BOOST_TEST(value == 7);
    BOOST_TEST(live_states::passed == 51);
    BOOST_TEST(live_states::count == 0);
  }
  {
    asio::io_context io;
    deferred<int> gate(io);
    gate.callback(7);
    gate.pause();
    auto root = coflow::spawn(io, gated_hop(io, 50, gate));
    int deliveries = 0;
    std::exception_ptr error;
    root.async_wait([&](std::exception_ptr e, int) {
      ++deliveries;
      error = e;
    });
    gate.unpause();
    live_states::passed = 0;
    for (int i = 0; i < 40; ++i)
      io.run_one();
    root.cancel();
    io.restart();
    io.run();
    BOOST_TEST(deliveries == 1);
    BOOST_TEST(holds<coflow::cancelled_error>(error));
    BOOST_TEST(live_states::passed < 51);
    BOOST_TEST(live_states::count == 0);
  }
}

BOOST_AUTO_TEST_CASE(a_state_someone_else_holds_does_not_collapse)
{
  // A handle kept on an intermediate state: it must still see its result,
  // so the chain keeps it (it waits on its next state as before).
  asio::io_context io;
  deferred<int> gate(io);
  coroutine<int> kept;
  auto middle = [&](int n) -> coroutine<int> {
    auto next = coflow::spawn(io, gated_hop(io, n, gate));
    co_return co_await tail_call(std::move(next));
  };
  auto first = [&]() -> coroutine<int> {
    kept = coflow::spawn(io, middle(3));
    co_return co_await tail_call(kept);
  };
  auto root = coflow::spawn(io, first());
  coflow_test::run_until_quiet(io);
  int from_root = -1, from_kept = -1;
  root.async_wait([&](std::exception_ptr, int v) { from_root = v; });
  kept.async_wait([&](std::exception_ptr, int v) { from_kept = v; });
  gate.callback(11);
  io.restart();
  io.run();
  BOOST_TEST(from_root == 11);
  BOOST_TEST(from_kept == 11);
}

BOOST_AUTO_TEST_SUITE_END()
