//
// test/sleep.cpp: coflow/sleep.hpp: sleep and sleep_until wait at least
// their time, from their start; a cancel reaches the timer at once; a pause
// holds the wake-up while the deadline keeps running (DESIGN.md §7).
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE sleep
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/sleep.hpp>

#include <coflow/coroutine.hpp>
#include <coflow/error.hpp>
#include <coflow/spawn.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>

namespace asio = boost::asio;
using coflow::coroutine;
using coflow_test::holds;
using coflow_test::io_fixture;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

BOOST_FIXTURE_TEST_SUITE(sleeping, io_fixture)

BOOST_AUTO_TEST_CASE(sleep_waits_at_least_its_duration)
{
  const auto start = clock_type::now();
  auto f = coflow::spawn(io, coflow::sleep(20ms), asio::use_future);
  run();
  f.get();
  BOOST_TEST((clock_type::now() - start >= 20ms));
}

BOOST_AUTO_TEST_CASE(the_duration_counts_from_the_start_not_the_call)
{
  auto body = [&]() -> coroutine<clock_type::duration> {
    auto later = coflow::sleep(40ms); // made now, started below
    co_await coflow::sleep(60ms);
    const auto started = clock_type::now();
    co_await later;
    co_return clock_type::now() - started;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  run();
  BOOST_TEST((f.get() >= 40ms));
}

BOOST_AUTO_TEST_CASE(sleep_until_a_time_past_finishes)
{
  auto f = coflow::spawn(io, coflow::sleep_until(clock_type::now() - 1s), asio::use_future);
  run();
  f.get(); // throws if it failed
}

BOOST_AUTO_TEST_CASE(sleep_until_waits_for_its_time)
{
  const auto until = clock_type::now() + 20ms;
  auto f = coflow::spawn(asio::make_strand(io), coflow::sleep_until(until), asio::use_future);
  run();
  f.get();
  BOOST_TEST((clock_type::now() >= until));
}

BOOST_AUTO_TEST_CASE(a_cancel_reaches_the_timer_at_once)
{
  bool after_sleep = false;
  auto body = [&]() -> coroutine<void> {
    co_await coflow::sleep(1h);
    after_sleep = true;
  };
  const auto start = clock_type::now();
  auto c = coflow::spawn(io, body());
  poll(); // the body runs to the timer's wait
  c.cancel();
  run(); // an hour, unless the cancel reached the timer
  BOOST_TEST(c.called());
  BOOST_TEST(!after_sleep);
  coflow_test::received<void> r;
  c.async_wait(r.handler());
  poll();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST((clock_type::now() - start < 100s)); // far from the hour
}

BOOST_AUTO_TEST_CASE(a_pause_holds_the_wake_up_and_the_deadline_keeps_running)
{
  bool after_sleep = false;
  auto body = [&]() -> coroutine<void> {
    co_await coflow::sleep(10ms); // a child: the parent's pause reaches it
    after_sleep = true;
  };
  auto c = coflow::spawn(io, body());
  poll(); // the body runs to the timer's wait
  c.pause();
  // A later timer: its handler runs after the sleep's timer has fired
  // (one timer queue, in the order of expiry), while the pause holds it.
  bool checked = false;
  asio::steady_timer check(io, 50ms);
  check.async_wait([&](auto) { checked = true; });
  while (!checked)
    io.run_one();
  io.restart();
  BOOST_TEST(!after_sleep);
  BOOST_TEST(!c.called());
  c.unpause();
  // The deadline passed while paused: the held wake-up goes on at once,
  // with no new wait on the timer.
  poll();
  BOOST_TEST(after_sleep);
  BOOST_TEST(c.called());
}

BOOST_AUTO_TEST_CASE(a_cancel_while_paused_overrides_the_pause)
{
  auto body = [&]() -> coroutine<void> { co_await coflow::sleep(1h); };
  auto c = coflow::spawn(io, body());
  poll();
  c.pause();
  c.cancel();
  run(); // the cancel reaches the timer; the failure is not held
  BOOST_TEST(c.called());
}

BOOST_AUTO_TEST_SUITE_END()
