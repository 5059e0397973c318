//
// test/combinators.cpp: join, gather, race, timeout, deadline and shield
// (DESIGN.md §7): every row of the table and every bullet under it, through
// every kind of branch, with the cascade (pause, unpause, cancel) reaching
// every branch.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE combinators
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coflow.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coflow::coroutine;
using coflow::deferred;
using coflow_test::cleanup;
using coflow_test::event_log;
using coflow_test::holds;
using coflow_test::io_fixture;
using coflow_test::received;
using coflow_test::unhandled_capture;

namespace {

/// Posts @p k times, counting each step in @p steps; delivers @p value.
coroutine<int> stepper(int& steps, int k, int value)
{
  for (int i = 0; i < k; ++i)
  {
    co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
    ++steps;
  }
  co_return value;
}

/// Awaits @p d; logs its cleanup as @p name.
coroutine<int> on(deferred<int> d, event_log& log, const char* name)
{
  cleanup c{log, name};
  co_return co_await d;
}

/// Fails with @p what after one post; logs its cleanup as @p name.
coroutine<int> fails_after_post(event_log& log, const char* name, const char* what)
{
  cleanup c{log, name};
  co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
  throw std::runtime_error(what);
}

coroutine<int> value_now(int v)
{
  co_return v;
}

coroutine<void> nothing()
{
  co_return;
}

/// Never finishes unless cancelled; logs its cleanup as @p name.
coroutine<int> forever(event_log& log, const char* name)
{
  cleanup c{log, name};
  deferred<int> never(co_await coflow::this_coro::executor);
  co_return co_await never;
}

asio::awaitable<int> awaitable_value(int v)
{
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return v;
}

/// Catches the cancel, then awaits a shielded close; logs every step.
coroutine<int> closes_gracefully(event_log& log, deferred<int> close_done)
{
  bool cancelled = false;
  try
  {
    co_await coflow::sleep(1h);
  }
  catch (const coflow::cancelled_error&)
  {
    cancelled = true;
  }
  if (cancelled)
  {
    int v = co_await coflow::shield(coflow::timeout(1h, close_done));
    log.push_back("closed " + std::to_string(v));
    try
    {
      co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back("next await cancelled");
    }
  }
  co_return 1;
}

/// The unhandled errors of a test, checked empty at its end unless taken.
struct quiet_fixture : io_fixture
{
  unhandled_capture unhandled;
  ~quiet_fixture() { BOOST_TEST(unhandled.messages.empty()); }
};

} // namespace

// The helpers take names as `const char*`: g++ 12 destroys the temporaries
// of a co_await expression twice when its await_resume throws (a cancel),
// so no argument of an awaited call here owns memory (doc/coroutine.md).

// --- join -------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(join, quiet_fixture)

BOOST_AUTO_TEST_CASE(values_in_branch_order_void_as_monostate)
{
  int a = 0, b = 0;
  auto f = coflow::spawn(io, coflow::join(stepper(a, 5, 1), stepper(b, 1, 2), nothing()),
      asio::use_future);
  run();
  auto [x, y, z] = f.get();
  BOOST_TEST(x == 1);
  BOOST_TEST(y == 2);
  BOOST_TEST((std::is_same_v<decltype(z), std::monostate>));
  BOOST_TEST(a == 5);
  BOOST_TEST(b == 1);
  BOOST_TEST(unhandled.errors.empty());
}

BOOST_AUTO_TEST_CASE(every_kind_of_branch)
{
  deferred<int> fired(io);
  fired.callback(3);
  int steps = 0;
  auto started = coflow::spawn(io, stepper(steps, 2, 4));
  auto body = [&]() -> coroutine<int> {
    auto [a, b, c, d, e, g] = co_await coflow::join(value_now(1),             // child
        started,                                                          // started
        fired,                                                            // deferred
        asio::post(io, asio::deferred),                                   // operation
        awaitable_value(5),                                               // awaitable
        coflow::join(value_now(6), coflow::timeout(1h, value_now(7))));   // combinator
    (void)d;
    co_return a + b + c + e + std::get<0>(g) + std::get<1>(g);
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  run();
  BOOST_TEST(f.get() == 1 + 4 + 3 + 5 + 6 + 7);
}

BOOST_AUTO_TEST_CASE(use_coroutine_operation_as_a_branch)
{
  asio::steady_timer timer(io, 1ms);
  auto body = [&]() -> coroutine<int> {
    auto [t, v] = co_await coflow::join(timer.async_wait(coflow::use_coroutine), value_now(2));
    (void)t;
    co_return v;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  run();
  BOOST_TEST(f.get() == 2);
}

BOOST_AUTO_TEST_CASE(first_error_cancels_siblings_and_is_thrown_after_their_cleanup)
{
  event_log log;
  deferred<int> never(io);
  auto body = [&]() -> coroutine<int> {
    try
    {
      co_await coflow::join(on(never, log, "sibling"), fails_after_post(log, "failing", "boom"),
          forever(log, "other"));
    }
    catch (const std::runtime_error& e)
    {
      log.push_back(std::string("caught ") + e.what());
    }
    co_return 0;
  };
  received<int> r;
  coflow::spawn(io, body()).async_wait(r.handler());
  run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(!r.error);
  BOOST_REQUIRE(log.size() == 4u);
  BOOST_TEST(log.back() == "caught boom"); // after every cleanup
  BOOST_TEST(log[0] == "failing cleanup");
  BOOST_TEST(unhandled.errors.empty()); // the siblings' cancels are not reported
}

BOOST_AUTO_TEST_CASE(a_later_error_is_reported_once)
{
  auto throws_at_once = [](const char* what) -> coroutine<int> {
    throw std::runtime_error(what);
    co_return 0;
  };
  received<std::tuple<int, int>> r;
  coflow::spawn(io, coflow::join(throws_at_once("first"), throws_at_once("second")))
      .async_wait(r.handler());
  run();
  BOOST_TEST(coflow_test::message_of(r.error) == "first");
  // The second failed before the cancel could stop it: no one receives
  // that error, so it is reported, once.
  BOOST_TEST(unhandled.messages == std::vector<std::string>{"second"});
  unhandled.errors.clear();
  unhandled.messages.clear();
}

BOOST_AUTO_TEST_CASE(range_forms)
{
  int a = 0, b = 0;
  std::vector<coroutine<int>> cs;
  cs.push_back(stepper(a, 3, 10));
  cs.push_back(stepper(b, 1, 20));
  auto f = coflow::spawn(io, coflow::join(std::move(cs)), asio::use_future);
  std::vector<coroutine<void>> vs{nothing(), nothing()};
  auto g = coflow::spawn(io, coflow::join(std::move(vs)), asio::use_future);
  std::vector<deferred<int>> ds{deferred<int>(io), deferred<int>(io)};
  ds[0].callback(1);
  ds[1].callback(2);
  auto h = coflow::spawn(io, coflow::join(ds), asio::use_future);
  run();
  BOOST_TEST(f.get() == (std::vector<int>{10, 20}));
  BOOST_CHECK_NO_THROW(g.get());
  static_assert(std::is_same_v<decltype(g.get()), void>);
  BOOST_TEST(h.get() == (std::vector<int>{1, 2}));
}

BOOST_AUTO_TEST_CASE(empty_range_completes_at_once)
{
  auto f = coflow::spawn(io, coflow::join(std::vector<coroutine<int>>{}), asio::use_future);
  run();
  BOOST_TEST(f.get().empty());
}

BOOST_AUTO_TEST_CASE(third_party_cancel_of_a_branch_fails_the_join)
{
  event_log log;
  auto victim = forever(log, "victim");
  auto body = [&]() -> coroutine<int> {
    co_await coflow::join(victim, forever(log, "other"));
    co_return 0;
  };
  received<int> r;
  coflow::spawn(io, body()).async_wait(r.handler());
  poll();
  victim.cancel();
  run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST(log == (event_log{"victim cleanup", "other cleanup"}));
  BOOST_TEST(unhandled.errors.empty());
}

BOOST_AUTO_TEST_CASE(branches_cancelled_before_they_start)
{
  // A branch cancelled through its own handle before the join starts ends
  // as it starts, inside the join's await_suspend: the join resumes early.
  event_log log;
  auto a = forever(log, "a");
  auto b = forever(log, "b");
  a.cancel();
  b.cancel();
  received<std::tuple<int, int>> both;
  coflow::spawn(io, coflow::join(a, b)).async_wait(both.handler());
  auto c = forever(log, "c");
  c.cancel();
  received<std::tuple<int, int>> one;
  coflow::spawn(io, coflow::join(c, value_now(1))).async_wait(one.handler());
  run();
  BOOST_TEST(holds<coflow::cancelled_error>(both.error));
  BOOST_TEST(holds<coflow::cancelled_error>(one.error));
  BOOST_TEST(log.empty()); // no body ran: their frames went unstarted
}

BOOST_AUTO_TEST_SUITE_END()

// --- gather -------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(gather, quiet_fixture)

BOOST_AUTO_TEST_CASE(every_branch_runs_to_its_end)
{
  event_log log;
  int steps = 0;
  auto f = coflow::spawn(io,
      coflow::gather(fails_after_post(log, "failing", "boom"), stepper(steps, 5, 7), nothing()),
      asio::use_future);
  run();
  auto [a, b, c] = f.get();
  BOOST_TEST(a.has_error());
  BOOST_TEST(coflow_test::message_of(a.error()) == "boom");
  BOOST_REQUIRE(b.has_value());
  BOOST_TEST(*b == 7);
  BOOST_TEST(steps == 5); // not cancelled by the failure
  BOOST_TEST(c.has_value());
  static_assert(std::is_same_v<decltype(c), boost::system::result<void, std::exception_ptr>>);
  BOOST_TEST(unhandled.errors.empty()); // delivered, so received
}

BOOST_AUTO_TEST_CASE(range_form_and_empty_range)
{
  event_log log;
  std::vector<coroutine<int>> cs;
  cs.push_back(value_now(1));
  cs.push_back(fails_after_post(log, "x", "no"));
  auto f = coflow::spawn(io, coflow::gather(std::move(cs)), asio::use_future);
  auto g = coflow::spawn(io, coflow::gather(std::vector<coroutine<void>>{}), asio::use_future);
  run();
  auto v = f.get();
  BOOST_REQUIRE(v.size() == 2u);
  BOOST_TEST(v[0].value() == 1);
  BOOST_TEST(v[1].has_error());
  BOOST_TEST(g.get().empty());
  BOOST_TEST(unhandled.errors.empty());
}

BOOST_AUTO_TEST_CASE(cancel_from_above_reaches_every_branch)
{
  event_log log;
  auto g = coflow::spawn(io, coflow::gather(forever(log, "a"), forever(log, "b")));
  received<std::tuple<boost::system::result<int, std::exception_ptr>,
      boost::system::result<int, std::exception_ptr>>> r;
  g.async_wait(r.handler());
  poll();
  g.cancel();
  run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST(log.size() == 2u);
  BOOST_TEST(unhandled.errors.empty());
}

BOOST_AUTO_TEST_SUITE_END()

// --- race -------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(race, quiet_fixture)

BOOST_AUTO_TEST_CASE(first_to_finish_wins_and_losers_are_cleaned_up_first)
{
  event_log log;
  deferred<int> win(io);
  auto body = [&]() -> coroutine<int> {
    auto v = co_await coflow::race(forever(log, "loser"), on(win, log, "winner"));
    log.push_back("race returned");
    co_return static_cast<int>(v.index()) * 100 + std::get<1>(v);
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  poll();
  win.callback(5);
  run();
  BOOST_TEST(f.get() == 105);
  BOOST_TEST(log == (event_log{"winner cleanup", "loser cleanup", "race returned"}));
}

BOOST_AUTO_TEST_CASE(a_failing_winner_throws_after_the_losers_finished)
{
  event_log log;
  auto body = [&]() -> coroutine<int> {
    co_await coflow::race(forever(log, "loser"), fails_after_post(log, "winner", "lost"));
    co_return 0;
  };
  received<int> r;
  coflow::spawn(io, body()).async_wait(r.handler());
  run();
  BOOST_TEST(coflow_test::message_of(r.error) == "lost");
  BOOST_TEST(log == (event_log{"winner cleanup", "loser cleanup"}));
  BOOST_TEST(unhandled.errors.empty());
}

BOOST_AUTO_TEST_CASE(a_losers_error_is_reported_its_value_discarded)
{
  auto stubborn = [](const char* what) -> coroutine<int> {
    // Cancelled, it finishes its work under a shield, then fails.
    co_await coflow::shield(asio::post(co_await coflow::this_coro::executor, asio::deferred));
    co_await coflow::shield(asio::post(co_await coflow::this_coro::executor, asio::deferred));
    if (*what == 0)
      co_return 9;
    throw std::runtime_error(what);
  };
  auto f = coflow::spawn(io, coflow::race(value_now(1), stubborn("loser failed"), stubborn("")),
      asio::use_future);
  run();
  auto v = f.get();
  BOOST_TEST(v.index() == 0u);
  BOOST_TEST(std::get<0>(v) == 1);
  BOOST_TEST(unhandled.messages == std::vector<std::string>{"loser failed"});
  unhandled.errors.clear();
  unhandled.messages.clear();
}

BOOST_AUTO_TEST_CASE(range_forms)
{
  deferred<int> d1(io), d2(io);
  std::vector<deferred<int>> ds{d1, d2};
  auto f = coflow::spawn(io, coflow::race(ds), asio::use_future);
  std::vector<coroutine<void>> vs;
  vs.push_back(coflow::sleep(1h));
  vs.push_back(nothing());
  auto g = coflow::spawn(io, coflow::race(std::move(vs)), asio::use_future);
  poll();
  d2.callback(8);
  run();
  BOOST_TEST((f.get() == std::pair<std::size_t, int>(1, 8)));
  BOOST_TEST(g.get() == 1u);
  BOOST_TEST(d1.called()); // the loser deferred was cancelled
}

BOOST_AUTO_TEST_CASE(empty_range_throws_invalid_argument_when_awaited)
{
  auto c = coflow::race(std::vector<coroutine<int>>{});
  received<std::pair<std::size_t, int>> r;
  coflow::spawn(io, std::move(c)).async_wait(r.handler());
  run();
  BOOST_TEST(holds<std::invalid_argument>(r.error));
}

BOOST_AUTO_TEST_CASE(a_third_party_cancel_of_a_branch_wins_with_cancelled_error)
{
  event_log log;
  auto victim = forever(log, "victim");
  auto body = [&]() -> coroutine<int> {
    try
    {
      co_await coflow::race(victim, forever(log, "other"));
    }
    catch (const coflow::cancelled_error&)
    {
      co_return 1; // the race was not cancelled from above: the body goes on
    }
    co_return 0;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  poll();
  victim.cancel();
  run();
  BOOST_TEST(f.get() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// --- the cascade through every combinator ---------------------------------------

BOOST_FIXTURE_TEST_SUITE(cascade, quiet_fixture)

BOOST_AUTO_TEST_CASE(a_pause_reaches_every_branch_none_advances)
{
  int a = 0, b = 0, c = 0;
  auto j = coflow::spawn(io, coflow::join(stepper(a, 1000, 1), stepper(b, 1000, 2)));
  auto g = coflow::spawn(io, coflow::race(stepper(c, 1000, 3), coflow::sleep(1h)));
  for (int i = 0; i < 20; ++i)
    io.run_one();
  j.pause();
  g.pause();
  poll(); // what was on its way completes, and is held
  const int a0 = a, b0 = b, c0 = c;
  BOOST_TEST(poll() == 0u);
  BOOST_TEST(a == a0);
  BOOST_TEST(b == b0);
  BOOST_TEST(c == c0);
  BOOST_TEST(a0 > 0);
  BOOST_TEST(a0 < 1000);
  BOOST_TEST(c0 < 1000);
  j.unpause();
  g.unpause();
  received<std::tuple<int, int>> rj;
  j.async_wait(rj.handler());
  auto fg = g.async_wait(asio::use_future);
  run();
  BOOST_TEST(a == 1000);
  BOOST_TEST(b == 1000);
  BOOST_REQUIRE(rj.value);
  BOOST_TEST(std::get<0>(*rj.value) == 1);
  BOOST_TEST(fg.get().index() == 0u);
}

BOOST_AUTO_TEST_CASE(results_that_come_while_paused_are_held)
{
  deferred<int> d1(io), d2(io);
  asio::steady_timer timer(io, 0ms);
  auto j = coflow::spawn(io, coflow::join(d1, d2, timer.async_wait(asio::deferred)));
  received<std::tuple<int, int, std::monostate>> r;
  j.async_wait(r.handler());
  poll();
  j.pause();
  d1.callback(1);
  d2.callback(2);
  run_until_quiet(); // the timer fires too
  BOOST_TEST(r.calls == 0);
  BOOST_TEST(!j.called());
  j.unpause();
  run();
  BOOST_REQUIRE(r.value);
  BOOST_TEST(std::get<0>(*r.value) == 1);
  BOOST_TEST(std::get<1>(*r.value) == 2);
}

BOOST_AUTO_TEST_CASE(a_race_paused_after_its_winner_finished_waits_for_the_unpause)
{
  event_log log;
  deferred<int> win(io);
  // The loser's cleanup completes only when the test says (it awaits the
  // gate under a shield), so the race is still waiting for it when paused.
  deferred<int> gate(io);
  auto r = coflow::spawn(io, coflow::race(on(win, log, "winner"), closes_gracefully(log, gate)));
  poll();
  win.callback(1);
  poll(); // the winner finished; the loser is cancelled and waits on the gate
  BOOST_TEST(log == event_log{"winner cleanup"});
  r.pause();
  gate.callback(0); // the loser finishes (cancelled: a pause does not hold it)
  run_until_quiet();
  BOOST_TEST(log == (event_log{"winner cleanup", "closed 0", "next await cancelled"}));
  BOOST_TEST(!r.called()); // the race's own result is held
  r.unpause();
  auto f = r.async_wait(asio::use_future);
  run();
  BOOST_TEST(std::get<0>(f.get()) == 1);
}

BOOST_AUTO_TEST_CASE(cancel_from_above_unwinds_every_branch_innermost_first)
{
  event_log log;
  auto body = [&]() -> coroutine<int> {
    cleanup c{log, "root"};
    co_await coflow::join(forever(log, "a"), coflow::race(forever(log, "b"), forever(log, "c")));
    co_return 0;
  };
  auto root = coflow::spawn(io, body());
  received<int> r;
  root.async_wait(r.handler());
  poll();
  root.cancel();
  run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_REQUIRE(log.size() == 4u);
  BOOST_TEST(log.back() == "root cleanup");
  BOOST_TEST(unhandled.errors.empty());
}

BOOST_AUTO_TEST_CASE(cancel_overrides_pause)
{
  event_log log;
  auto j = coflow::spawn(io, coflow::join(forever(log, "a"), forever(log, "b")));
  received<std::tuple<int, int>> r;
  j.async_wait(r.handler());
  poll();
  j.pause();
  j.cancel();
  run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST(log.size() == 2u);
  j.unpause(); // balances the count, no error
}

BOOST_AUTO_TEST_CASE(shutdown_destroys_every_frame)
{
  auto alive = std::make_shared<int>(0);
  {
    asio::io_context io2;
    auto leaf = [](std::shared_ptr<int> alive) -> coroutine<int> {
      deferred<int> never(co_await coflow::this_coro::executor);
      co_return co_await never + *alive;
    };
    coflow::spawn(io2, coflow::join(leaf(alive), coflow::race(leaf(alive), leaf(alive))),
        asio::detached);
    io2.poll();
    BOOST_TEST(alive.use_count() == 4);
  }
  BOOST_TEST(alive.use_count() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// --- timeout, deadline ---------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(timeout, quiet_fixture)

BOOST_AUTO_TEST_CASE(in_time_gives_the_value)
{
  auto f = coflow::spawn(io, coflow::timeout(1h, value_now(4)), asio::use_future);
  const auto start = std::chrono::steady_clock::now();
  run();
  BOOST_TEST(f.get() == 4);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 10min)); // the timer was cancelled
}

BOOST_AUTO_TEST_CASE(too_late_cancels_and_throws_timeout_error_after_cleanup)
{
  event_log log;
  auto body = [&]() -> coroutine<int> {
    try
    {
      co_await coflow::timeout(1ms, forever(log, "x"));
    }
    catch (const coflow::timeout_error& e)
    {
      log.push_back("timed out");
      BOOST_TEST((e.code() == asio::error::timed_out));
    }
    co_return 0;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  run();
  f.get();
  BOOST_TEST(log == (event_log{"x cleanup", "timed out"}));
  BOOST_TEST(unhandled.errors.empty());
}

BOOST_AUTO_TEST_CASE(deadline_with_a_time_point)
{
  event_log log;
  received<int> late, early;
  coflow::spawn(io, coflow::deadline(std::chrono::steady_clock::now() - 1s, forever(log, "x")))
      .async_wait(late.handler());
  coflow::spawn(io, coflow::deadline(std::chrono::steady_clock::now() + 1h, value_now(2)))
      .async_wait(early.handler());
  run();
  BOOST_TEST(holds<coflow::timeout_error>(late.error));
  BOOST_TEST(!holds<coflow::cancelled_error>(late.error));
  BOOST_TEST((early.value == 2));
}

BOOST_AUTO_TEST_CASE(cancel_from_above_is_cancelled_error_not_timeout_error)
{
  event_log log;
  auto t = coflow::spawn(io, coflow::timeout(1h, forever(log, "x")));
  received<int> r;
  t.async_wait(r.handler());
  poll();
  t.cancel();
  run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST(!holds<coflow::timeout_error>(r.error));
  BOOST_TEST(log == event_log{"x cleanup"});
}

BOOST_AUTO_TEST_CASE(the_deadline_runs_while_paused_and_the_error_is_held)
{
  event_log log;
  auto t = coflow::spawn(io, coflow::timeout(5ms, forever(log, "x")));
  received<int> r;
  t.async_wait(r.handler());
  poll();
  t.pause();
  // Wait (in the context) until the deadline has passed: x is cancelled
  // despite the pause, and the timeout_error is held.
  while (log.empty() && io.run_one() > 0)
  {
  }
  run_until_quiet();
  BOOST_TEST(log == event_log{"x cleanup"});
  BOOST_TEST(r.calls == 0);
  t.unpause();
  run();
  BOOST_TEST(holds<coflow::timeout_error>(r.error));
}

BOOST_AUTO_TEST_SUITE_END()

// --- shield -------------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(shield, quiet_fixture)

BOOST_AUTO_TEST_CASE(a_cancelled_coroutine_awaits_its_graceful_close)
{
  event_log log;
  deferred<int> close_done(io);
  auto c = coflow::spawn(io, closes_gracefully(log, close_done));
  received<int> r;
  c.async_wait(r.handler());
  poll();
  c.cancel();
  poll();
  BOOST_TEST(log.empty()); // waits on the close, which the cancel did not reach
  BOOST_TEST(!close_done.called());
  close_done.callback(7);
  run();
  BOOST_TEST(log == (event_log{"closed 7", "next await cancelled"}));
  BOOST_TEST(holds<coflow::cancelled_error>(r.error)); // as always
}

BOOST_AUTO_TEST_CASE(a_cancel_during_the_shield_is_not_forwarded_pause_is)
{
  event_log log;
  deferred<int> inner(io);
  auto body = [&]() -> coroutine<int> {
    int v = co_await coflow::shield(on(inner, log, "inner"));
    log.push_back("after shield");
    co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
    log.push_back("not reached");
    co_return v;
  };
  auto c = coflow::spawn(io, body());
  received<int> r;
  c.async_wait(r.handler());
  poll();
  c.pause();
  BOOST_TEST(inner.pause_count() == 1u); // the pause reached the shielded work
  c.unpause();
  BOOST_TEST(inner.pause_count() == 0u);
  c.cancel();
  poll();
  BOOST_TEST(!inner.called()); // the cancel did not
  inner.callback(3);
  run();
  BOOST_TEST(log == (event_log{"inner cleanup", "after shield"}));
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
}

BOOST_AUTO_TEST_SUITE_END()

// --- threads ---------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(threads)

BOOST_AUTO_TEST_CASE(on_a_thread_pool_without_a_strand)
{
  for (int round = 0; round < 100; ++round)
  {
    asio::thread_pool pool(2);
    auto leaf = [](int i) -> coroutine<int> {
      for (int k = 0; k < 3; ++k)
        co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
      co_return i;
    };
    auto body = [&]() -> coroutine<int> {
      std::vector<coroutine<int>> cs;
      for (int i = 0; i < 8; ++i)
        cs.push_back(leaf(i));
      int sum = 0;
      for (int v : co_await coflow::join(std::move(cs)))
        sum += v;
      auto [a, b] = co_await coflow::join(leaf(100), coflow::timeout(1h, leaf(200)));
      auto w = co_await coflow::race(leaf(1000), coflow::sleep(1h));
      auto g = co_await coflow::gather(leaf(1), leaf(2));
      co_return sum + a + b + std::get<0>(w) + std::get<0>(g).value() + std::get<1>(g).value();
    };
    auto f = coflow::spawn(pool, body(), asio::use_future);
    BOOST_TEST(f.get() == 28 + 300 + 1000 + 3);
    pool.join();
  }
}

BOOST_AUTO_TEST_CASE(controls_from_another_thread)
{
  for (int round = 0; round < 50; ++round)
  {
    asio::thread_pool pool(2);
    std::atomic<int> steps{0};
    auto leaf = [&]() -> coroutine<int> {
      for (;;)
      {
        co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
        steps.fetch_add(1, std::memory_order_relaxed);
      }
    };
    auto c = coflow::spawn(pool, coflow::join(leaf(), coflow::race(leaf(), leaf())));
    auto f = c.async_wait(asio::use_future);
    while (steps.load(std::memory_order_relaxed) < 10)
      std::this_thread::yield();
    c.pause();
    c.unpause();
    c.pause();
    c.cancel();
    try
    {
      f.get();
      BOOST_FAIL("not cancelled");
    }
    catch (const coflow::cancelled_error&)
    {
    }
    pool.join();
  }
}

BOOST_AUTO_TEST_SUITE_END()
