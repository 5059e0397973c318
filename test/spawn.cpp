//
// test/spawn.cpp: coflow::spawn (DESIGN.md section 4, "Starting"): a
// callable that returns a coroutine is kept alive until that coroutine has
// finished, as co_spawn keeps its function; asio::detached is the
// fire-and-forget form and reports errors.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE spawn
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/spawn.hpp>

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/unhandled_error.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow_test::event_log;
using coflow_test::unhandled_capture;
using coflow::coroutine;
using coflow::use_coroutine;
using coflow_test::holds;

namespace {

/// A capture that says when it dies: the live object (not a moved-from
/// shell) logs "<name> destroyed" once. A body that reads it after that
/// reads a dead object: the log shows the order, ASan the read itself.
class witness
{
public:
  witness(event_log& log, std::string name) : log_(&log), name_(std::move(name)) {}

  witness(witness&& other) noexcept
    : log_(std::exchange(other.log_, nullptr)), name_(std::move(other.name_)),
      value_(other.value_)
  {
  }

  witness& operator=(witness&&) = delete;

  ~witness()
  {
    if (log_)
      log_->push_back(name_ + " destroyed");
  }

  int value() const { return value_; }

private:
  event_log* log_;
  std::string name_;
  int value_ = 42;
};

std::size_t count(const event_log& log, const std::string& entry)
{
  return static_cast<std::size_t>(std::count(log.begin(), log.end(), entry));
}

/// Whether @p first is logged, and before @p second.
bool before(const event_log& log, const std::string& first, const std::string& second)
{
  auto a = std::find(log.begin(), log.end(), first);
  auto b = std::find(log.begin(), log.end(), second);
  return a != log.end() && b != log.end() && a < b;
}

coroutine<int> forty()
{
  co_return 40;
}

coroutine<int> fails(std::string what)
{
  co_await coflow::this_coro::executor;
  throw std::runtime_error(what);
}

} // namespace

// Starting a coroutine (DESIGN.md section 4, "Starting").
BOOST_FIXTURE_TEST_SUITE(coroutines, io_fixture)

BOOST_AUTO_TEST_CASE(spawn_posts_the_start)
{
  bool ran = false;
  auto body = [&]() -> coroutine<void> {
    ran = true;
    co_return;
  };
  auto c = body();
  BOOST_TEST(!c.started());
  auto started = coflow::spawn(io, c);
  BOOST_TEST((started == c));
  BOOST_TEST(c.started());
  BOOST_TEST(!ran); // never inside spawn()
  BOOST_CHECK_THROW((void)coflow::spawn(io, c), std::logic_error);
  io.run();
  BOOST_TEST(ran);
}

BOOST_AUTO_TEST_CASE(spawn_with_token)
{
  auto f = coflow::spawn(io, []() -> coroutine<std::string> { co_return "token"; }(),
      asio::use_future);
  io.run();
  BOOST_TEST(f.get() == "token");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(callables)

BOOST_AUTO_TEST_CASE(captures_live_until_the_coroutine_has_finished)
{
  // The translation of co_spawn(io, [&] { ... }, ...) into coflow: the
  // closure is a temporary of the spawning scope, and its coroutine body
  // reads the captures (by value and by reference) after that scope is gone.
  asio::io_context io;
  event_log log;
  coflow::deferred<int> go(io);
  coroutine<int> c;
  {
    c = coflow::spawn(io, [&, w = witness(log, "capture")]() -> coroutine<int> {
      log.push_back("body starts");
      int v = co_await go;
      log.push_back("body reads its captures");
      int result = v + w.value();
      log.push_back("body done");
      co_return result;
    });
  }
  BOOST_TEST(log.empty()); // nothing runs inside spawn, nothing died
  io.poll();
  io.restart();
  BOOST_TEST((log == event_log{"body starts"}));
  auto f = c.async_wait(asio::use_future);
  go.callback(1);
  io.run();
  BOOST_TEST(f.get() == 43);
  BOOST_TEST((log
      == event_log{"body starts", "body reads its captures", "body done",
          "capture destroyed"}));
}

BOOST_FIXTURE_TEST_CASE(the_callable_is_destroyed_once_after_the_coroutine_finished, io_fixture)
{
  event_log log;
  coflow::deferred<void> go(io);
  auto c = coflow::spawn(io, [&log, &go, w = witness(log, "callable")]() -> coroutine<void> {
    co_await go;
    log.push_back(w.value() == 42 ? "finished" : "read a dead capture");
  });
  poll();
  BOOST_TEST(log.empty()); // suspended: the callable lives
  go.callback();
  io.run();
  BOOST_TEST(c.called());
  BOOST_TEST((log == event_log{"finished", "callable destroyed"}));
}

BOOST_FIXTURE_TEST_CASE(an_lvalue_callable_is_copied, io_fixture)
{
  auto token = std::make_shared<int>(7);
  auto factory = [token]() -> coroutine<int> { co_return *token; };
  BOOST_TEST(token.use_count() == 2);
  auto c = coflow::spawn(io, factory);
  BOOST_TEST(token.use_count() == 3); // the caller's, and the frame's copy
  auto f = c.async_wait(asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 7);
  BOOST_TEST(token.use_count() == 2); // the copy went with the coroutine
}

BOOST_FIXTURE_TEST_CASE(a_function_is_a_callable, io_fixture)
{
  auto f = coflow::spawn(io, &forty, asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 40);
}

BOOST_AUTO_TEST_CASE(with_a_token)
{
  asio::io_context io;
  event_log log;
  auto f = coflow::spawn(io,
      [&log, &io, w = witness(log, "future's callable")]() -> coroutine<int> {
        co_await asio::post(io, use_coroutine);
        log.push_back("future's body done");
        co_return w.value();
      },
      asio::use_future);
  std::string received;
  coflow::spawn(io,
      [&log, w = witness(log, "callback's callable")]() -> coroutine<std::string> {
        co_await coflow::this_coro::executor;
        log.push_back("callback's body done");
        co_return std::to_string(w.value());
      },
      [&](std::exception_ptr e, std::string s) {
        log.push_back(e ? "callback got an error" : "callback got " + s);
      });
  io.run();
  BOOST_TEST(f.get() == 42);
  BOOST_TEST(count(log, "future's callable destroyed") == 1u);
  BOOST_TEST(count(log, "callback's callable destroyed") == 1u);
  BOOST_TEST(count(log, "callback got 42") == 1u);
  BOOST_TEST(before(log, "future's body done", "future's callable destroyed"));
  BOOST_TEST(before(log, "callback's body done", "callback's callable destroyed"));
}

BOOST_FIXTURE_TEST_CASE(cancel_of_the_handle_cascades_into_the_coroutine, io_fixture)
{
  asio::steady_timer timer(io, std::chrono::hours(1));
  event_log log;
  auto c = coflow::spawn(io, [&, w = witness(log, "callable")]() -> coroutine<void> {
    try
    {
      co_await timer.async_wait(use_coroutine);
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back(w.value() == 42 ? "inner cancelled" : "read a dead capture");
      throw;
    }
  });
  poll();
  c.cancel();
  auto f = c.async_wait(asio::use_future);
  io.run(); // returns: the hour-long wait was cancelled
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
  BOOST_TEST((log == event_log{"inner cancelled", "callable destroyed"}));
}

BOOST_FIXTURE_TEST_CASE(cancelled_before_the_start_the_callable_is_never_called, io_fixture)
{
  event_log log;
  auto c = coflow::spawn(io, [&log, w = witness(log, "callable")]() -> coroutine<int> {
    log.push_back("called");
    co_return 1;
  });
  c.cancel();
  auto f = c.async_wait(asio::use_future);
  io.run();
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
  BOOST_TEST((log == event_log{"callable destroyed"}));
}

BOOST_FIXTURE_TEST_CASE(errors_fail_the_returned_coroutine, io_fixture)
{
  // From the coroutine's body.
  auto body_error = coflow::spawn(io, [] { return fails("body failed"); }, asio::use_future);
  // From the callable itself: never thrown out of spawn.
  auto call_error = coflow::spawn(io,
      []() -> coroutine<int> { throw std::runtime_error("call failed"); }, asio::use_future);
  // An empty handle returned.
  auto empty = coflow::spawn(io, [] { return coroutine<int>(); }, asio::use_future);
  io.run();
  BOOST_CHECK_EXCEPTION(body_error.get(), std::runtime_error,
      [](const std::runtime_error& e) { return std::string(e.what()) == "body failed"; });
  BOOST_CHECK_EXCEPTION(call_error.get(), std::runtime_error,
      [](const std::runtime_error& e) { return std::string(e.what()) == "call failed"; });
  BOOST_CHECK_THROW(empty.get(), std::logic_error);
}

BOOST_AUTO_TEST_CASE(a_coroutine_argument_is_spawned_as_it_is)
{
  // Overload resolution: a coroutine is never taken for a callable.
  asio::io_context io;
  auto c = forty();
  static_assert(std::is_same_v<decltype(coflow::spawn(io, c)), coroutine<int>>);
  auto s = coflow::spawn(io, c);
  BOOST_TEST((s == c)); // the same coroutine, not a wrapper
  const coroutine<int> k = forty();
  auto t = coflow::spawn(io.get_executor(), k, asio::use_future);
  io.run();
  BOOST_TEST(t.get() == 40);
  BOOST_TEST(s.called());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fire_and_forget)

BOOST_FIXTURE_TEST_CASE(detached_runs_and_returns_nothing, io_fixture)
{
  int ran = 0;
  auto body = [&]() -> coroutine<void> {
    co_await asio::post(io, use_coroutine);
    ++ran;
  };
  // A statement, with nothing [[nodiscard]] to discard (-Werror builds).
  coflow::spawn(io, body(), asio::detached);
  coflow::spawn(io, body, asio::detached);
  static_assert(std::is_void_v<decltype(coflow::spawn(io, body(), asio::detached))>);
  io.run();
  BOOST_TEST(ran == 2);
}

BOOST_AUTO_TEST_CASE(errors_of_a_detached_coroutine_are_reported)
{
  unhandled_capture capture;
  asio::io_context io;
  coflow::spawn(io, fails("detached failure"), asio::detached);
  coflow::spawn(io, [] { return fails("detached callable failure"); }, asio::detached);
  io.run();
  std::sort(capture.messages.begin(), capture.messages.end());
  BOOST_TEST((capture.messages
      == std::vector<std::string>{"detached callable failure", "detached failure"}));
}

BOOST_AUTO_TEST_CASE(a_cancelled_detached_coroutine_is_not_reported)
{
  unhandled_capture capture;
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::hours(1));
  auto body = [&]() -> coroutine<void> { co_await timer.async_wait(use_coroutine); };
  coroutine<void> c = body();
  coflow::spawn(io, c, asio::detached); // c stays a handle to it
  io.poll();
  io.restart();
  c.cancel();
  io.run();
  BOOST_TEST(c.called());
  BOOST_TEST(capture.messages.empty());
}

BOOST_AUTO_TEST_SUITE_END()
