//
// test/asio_operation.cpp: coroutine<T> and deferred<T> as Asio asynchronous
// operations (DESIGN.md §9): `x(token)`, `co_await x` directly inside
// asio::awaitable (Boost 1.81 included), make_parallel_group, and Asio's
// cancellation (`||`, a group's cancel) reaching the whole cascade.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE asio_operation
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coflow.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using coflow::coroutine;
using coflow::deferred;
using coflow_test::cleanup;
using coflow_test::event_log;
using coflow_test::holds;
using coflow_test::io_fixture;

namespace {

coroutine<int> answer()
{
  co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
  co_return 42;
}

coroutine<int> fails(const char* what)
{
  co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
  throw std::runtime_error(what);
}

coroutine<void> nothing()
{
  co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
}

/// Waits an hour in a child; logs each level's cleanup.
coroutine<int> level2(event_log& log)
{
  cleanup c{log, "level2"};
  co_await coflow::sleep(1h);
  co_return 2;
}

coroutine<int> level1(event_log& log)
{
  cleanup c{log, "level1"};
  co_return co_await level2(log);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(in_asio_awaitable, io_fixture)

BOOST_AUTO_TEST_CASE(co_await_a_coroutine_directly)
{
  auto body = [&]() -> asio::awaitable<int> {
    int a = co_await answer();                   // unstarted: spawned here
    auto started = coflow::spawn(io, answer());
    int b = co_await std::move(started);         // started: waited on
    co_await nothing();                          // void
    std::string caught;
    try
    {
      co_await fails("no");
    }
    catch (const std::runtime_error& e)
    {
      caught = e.what();
    }
    co_return a + b + (caught == "no" ? 1 : 0);
  };
  auto f = asio::co_spawn(io, body(), asio::use_future);
  run();
  BOOST_TEST(f.get() == 85);
}

BOOST_AUTO_TEST_CASE(co_await_a_deferred_directly)
{
  deferred<int> fired(io), failing(io), later(io);
  fired.callback(1);
  failing.errback(std::make_exception_ptr(std::logic_error("bad")));
  auto body = [&]() -> asio::awaitable<int> {
    int a = co_await deferred<int>(fired);
    bool caught = false;
    try
    {
      co_await deferred<int>(failing);
    }
    catch (const std::logic_error&)
    {
      caught = true;
    }
    int c = co_await deferred<int>(later);
    co_return a + c + (caught ? 100 : 0);
  };
  auto f = asio::co_spawn(io, body(), asio::use_future);
  poll();
  later.callback(10);
  run();
  BOOST_TEST(f.get() == 111);
}

BOOST_AUTO_TEST_CASE(cancelled_by_the_or_operator_with_the_whole_cascade)
{
  event_log log;
  auto body = [&]() -> asio::awaitable<int> {
    auto branch = [&]() -> asio::awaitable<int> { co_return co_await level1(log); };
    asio::steady_timer timer(io, 1ms);
    auto r = co_await (branch() || timer.async_wait(asio::use_awaitable));
    log.push_back("or returned");
    co_return static_cast<int>(r.index());
  };
  auto f = asio::co_spawn(io, body(), asio::use_future);
  run();
  BOOST_TEST(f.get() == 1);
  BOOST_TEST(log == (event_log{"level2 cleanup", "level1 cleanup", "or returned"})); // innermost first
}

BOOST_AUTO_TEST_CASE(a_combinator_awaited_directly)
{
  auto body = [&]() -> asio::awaitable<int> {
    auto [a, b] = co_await coflow::join(answer(), coflow::timeout(1h, answer()));
    co_return a + b;
  };
  auto f = asio::co_spawn(io, body(), asio::use_future);
  run();
  BOOST_TEST(f.get() == 84);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(with_any_token, io_fixture)

BOOST_AUTO_TEST_CASE(a_token_with_an_executor_starts_the_coroutine)
{
  auto f = answer()(asio::bind_executor(io, asio::use_future));
  int got = 0;
  answer()(asio::bind_executor(io, [&](std::exception_ptr e, int v) { got = e ? -1 : v; }));
  run();
  BOOST_TEST(f.get() == 42);
  BOOST_TEST(got == 42);
}

BOOST_AUTO_TEST_CASE(a_token_without_an_executor_is_refused_for_an_unstarted_coroutine)
{
  BOOST_CHECK_THROW(answer()(asio::use_future), std::logic_error);
  auto started = coflow::spawn(io, answer());
  auto f = started(asio::use_future); // started: only waited on
  run();
  BOOST_TEST(f.get() == 42);
}

BOOST_AUTO_TEST_CASE(a_deferred_with_any_token)
{
  deferred<int> d(io);
  auto f = d(asio::use_future);
  d.callback(5);
  run();
  BOOST_TEST(f.get() == 5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(parallel_group, io_fixture)

BOOST_AUTO_TEST_CASE(started_coroutines_and_deferreds_in_a_group)
{
  deferred<int> d(io);
  auto c = coflow::spawn(io, answer());
  auto body = [&]() -> asio::awaitable<int> {
    auto [order, e1, v1, e2, v2] = co_await asio::experimental::make_parallel_group(c, d)
                                         .async_wait(asio::experimental::wait_for_all(),
                                             asio::use_awaitable);
    BOOST_TEST(!e1);
    BOOST_TEST(!e2);
    co_return v1 + v2 + static_cast<int>(order[0]) * 1000;
  };
  auto f = asio::co_spawn(io, body(), asio::use_future);
  poll();
  d.callback(3); // c finished first
  run();
  BOOST_TEST(f.get() == 45);
}

BOOST_AUTO_TEST_CASE(the_groups_cancel_reaches_the_cascade)
{
  event_log log;
  auto slow = coflow::spawn(io, level1(log));
  auto quick = coflow::spawn(io, answer());
  auto body = [&]() -> asio::awaitable<int> {
    auto [order, e1, v1, e2, v2] = co_await asio::experimental::make_parallel_group(slow, quick)
                                         .async_wait(asio::experimental::wait_for_one(),
                                             asio::use_awaitable);
    (void)v1;
    log.push_back("group returned");
    BOOST_TEST(holds<coflow::cancelled_error>(e1));
    BOOST_TEST(!e2);
    co_return v2 + static_cast<int>(order[0]) * 1000;
  };
  auto f = asio::co_spawn(io, body(), asio::use_future);
  run();
  BOOST_TEST(f.get() == 1042);
  BOOST_TEST(log == (event_log{"level2 cleanup", "level1 cleanup", "group returned"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(threads)

BOOST_AUTO_TEST_CASE(awaited_from_an_awaitable_on_a_thread_pool)
{
  for (int round = 0; round < 100; ++round)
  {
    asio::thread_pool pool(2);
    event_log log;
    auto body = [&]() -> asio::awaitable<int> {
      int sum = 0;
      for (int i = 0; i < 5; ++i)
        sum += co_await answer();
      asio::steady_timer timer(pool, 1ms);
      auto branch = [&]() -> asio::awaitable<int> { co_return co_await level1(log); };
      auto r = co_await (branch() || timer.async_wait(asio::use_awaitable));
      co_return sum + static_cast<int>(r.index());
    };
    auto f = asio::co_spawn(pool, body(), asio::use_future);
    BOOST_TEST(f.get() == 211);
    pool.join();
    // The timer may fire while level1 is still starting on the other
    // thread: a cancel that arrives before level1 awaits level2 means level2
    // never runs (nor logs). Either way each cleanup ran once, innermost first.
    BOOST_TEST((log == event_log{"level2 cleanup", "level1 cleanup"}
                   || log == event_log{"level1 cleanup"} || log.empty()));
  }
}

BOOST_AUTO_TEST_SUITE_END()
