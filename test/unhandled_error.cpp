//
// test/unhandled_error.cpp: coflow/unhandled_error.hpp: where the errors go
// that nobody received (doc/deferred.md "Unhandled errors", doc/coroutine.md).
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE unhandled_error
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/unhandled_error.hpp>

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/error.hpp>
#include <coflow/spawn.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <exception>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow::coroutine;
using coflow::deferred;
using coflow_test::unhandled_capture;
using coflow_test::unhandled_error_guard;

namespace {

/// Sends what std::cerr writes to a string while alive.
class cerr_capture
{
public:
  cerr_capture() : previous_(std::cerr.rdbuf(text_.rdbuf())) {}
  cerr_capture(const cerr_capture&) = delete;
  cerr_capture& operator=(const cerr_capture&) = delete;
  ~cerr_capture() { std::cerr.rdbuf(previous_); }

  std::string str() const { return text_.str(); }

private:
  std::ostringstream text_;
  std::streambuf* previous_;
};

/// Fails @p error into a deferred that nobody receives, and drops it: the
/// error is reported here, on this thread.
void drop_failed_deferred(asio::io_context& io, std::exception_ptr error)
{
  deferred<void> d(io);
  d.errback(std::move(error));
}

std::size_t lines(const std::string& s)
{
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(handler, io_fixture)

BOOST_AUTO_TEST_CASE(the_default_writes_one_line_to_cerr)
{
  unhandled_error_guard use_default{coflow::unhandled_error_handler()};
  std::string known, unknown;
  {
    cerr_capture err;
    drop_failed_deferred(io, std::make_exception_ptr(std::runtime_error("nobody listened")));
    known = err.str();
  }
  {
    cerr_capture err;
    drop_failed_deferred(io, std::make_exception_ptr(42)); // not a std::exception
    unknown = err.str();
  }
  BOOST_TEST(lines(known) == 1u);
  BOOST_TEST(known.back() == '\n');
  BOOST_TEST(known.find("nobody listened") != std::string::npos);
  BOOST_TEST(lines(unknown) == 1u);
  BOOST_TEST(unknown.back() == '\n');
}

BOOST_AUTO_TEST_CASE(set_returns_the_previous_and_an_empty_one_restores_the_default)
{
  std::vector<std::string> seen;
  unhandled_error_guard first{[&](std::exception_ptr) { seen.push_back("first"); }};
  BOOST_TEST(!first.previous()); // the default is installed at start
  auto replaced = coflow::set_unhandled_error_handler(
      [&](std::exception_ptr) { seen.push_back("second"); });
  BOOST_REQUIRE(static_cast<bool>(replaced));
  replaced(nullptr); // it is the first one
  BOOST_TEST((seen == std::vector<std::string>{"first"}));

  drop_failed_deferred(io, std::make_exception_ptr(std::runtime_error("x")));
  BOOST_TEST((seen == std::vector<std::string>{"first", "second"}));

  auto second = coflow::set_unhandled_error_handler({}); // the default again
  BOOST_TEST(static_cast<bool>(second));
  std::string written;
  {
    cerr_capture err;
    drop_failed_deferred(io, std::make_exception_ptr(std::runtime_error("to cerr")));
    written = err.str();
  }
  BOOST_TEST((seen == std::vector<std::string>{"first", "second"}));
  BOOST_TEST(written.find("to cerr") != std::string::npos);
  BOOST_TEST(!coflow::set_unhandled_error_handler(std::move(second))); // was the default
}

BOOST_AUTO_TEST_CASE(an_exception_from_the_handler_is_swallowed)
{
  int calls = 0;
  unhandled_error_guard throwing{[&](std::exception_ptr) {
    ++calls;
    throw std::runtime_error("from the handler");
  }};
  BOOST_CHECK_NO_THROW(
      drop_failed_deferred(io, std::make_exception_ptr(std::runtime_error("x"))));
  auto failing = []() -> coroutine<void> {
    co_await coflow::this_coro::executor;
    throw std::runtime_error("y");
  };
  coflow::spawn(io, failing(), asio::detached); // reported inside run()
  BOOST_CHECK_NO_THROW(io.run());
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(called_on_the_thread_that_released_the_last_handle)
{
  std::thread::id reported_on;
  int calls = 0;
  unhandled_error_guard record{[&](std::exception_ptr) {
    ++calls;
    reported_on = std::this_thread::get_id();
  }};
  deferred<void> d(io);
  d.errback(std::make_exception_ptr(std::runtime_error("x")));
  std::thread::id releaser;
  std::thread t([&releaser, last = std::move(d)]() mutable {
    releaser = std::this_thread::get_id();
    last = {};
  });
  t.join();
  BOOST_TEST(calls == 1);
  BOOST_TEST((reported_on == releaser));
  BOOST_TEST((reported_on != std::this_thread::get_id()));
}

BOOST_AUTO_TEST_CASE(a_handler_may_install_another)
{
  // The handler is called outside the lock that set_unhandled_error_handler
  // takes: installing one from inside a handler does not deadlock.
  std::vector<std::string> seen;
  unhandled_error_guard outer{[&](std::exception_ptr e) {
    seen.push_back("outer: " + coflow_test::message_of(e));
    coflow::set_unhandled_error_handler(
        [&](std::exception_ptr f) { seen.push_back("inner: " + coflow_test::message_of(f)); });
  }};
  drop_failed_deferred(io, std::make_exception_ptr(std::runtime_error("a")));
  drop_failed_deferred(io, std::make_exception_ptr(std::runtime_error("b")));
  BOOST_TEST((seen == std::vector<std::string>{"outer: a", "inner: b"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(not_reported, io_fixture)

BOOST_AUTO_TEST_CASE(a_cancelled_error_is_never_reported)
{
  // Whoever fails or throws it, not only a cancel(): the test is its type.
  unhandled_capture capture;
  drop_failed_deferred(io, std::make_exception_ptr(coflow::cancelled_error()));
  auto gives_up = []() -> coroutine<int> {
    co_await coflow::this_coro::executor;
    throw coflow::cancelled_error();
  };
  (void)coflow::spawn(io, gives_up());
  coflow::spawn(io, gives_up(), asio::detached);
  io.run();
  BOOST_TEST(capture.errors.empty());
}

BOOST_AUTO_TEST_CASE(an_operation_aborted_that_is_not_a_cancelled_error_is)
{
  unhandled_capture capture;
  drop_failed_deferred(io, std::make_exception_ptr(boost::system::system_error(
      asio::error::operation_aborted, "aborted, not cancelled")));
  BOOST_REQUIRE(capture.errors.size() == 1u);
  BOOST_TEST(coflow_test::holds<boost::system::system_error>(capture.errors[0]));
  BOOST_TEST(!coflow_test::holds<coflow::cancelled_error>(capture.errors[0]));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(deferreds)

BOOST_AUTO_TEST_CASE(reported_exactly_once_when_last_handle_goes)
{
  unhandled_capture capture;
  asio::io_context io;
  {
    deferred<int> d(io);
    deferred<int> copy = d;
    d.errback(std::make_exception_ptr(std::runtime_error("nobody listened")));
    d = {};
    BOOST_TEST(capture.messages.empty()); // a handle is left
  }
  BOOST_TEST((capture.messages == std::vector<std::string>{"nobody listened"}));
}

BOOST_AUTO_TEST_CASE(throwing_callback_without_errback_is_reported)
{
  unhandled_capture capture;
  asio::io_context io;
  {
    deferred<int> d(io);
    d.add_callback([](int) -> int { throw std::runtime_error("callback broke"); });
    d.callback(1);
  }
  BOOST_TEST((capture.messages == std::vector<std::string>{"callback broke"}));
}

BOOST_AUTO_TEST_CASE(received_errors_are_not_reported)
{
  unhandled_capture capture;
  asio::io_context io;
  {
    deferred<int> by_errback(io);
    by_errback.add_errback([](std::exception_ptr) { return 0; });
    by_errback.errback(std::make_exception_ptr(std::runtime_error("a")));

    deferred<int> by_consumer(io);
    by_consumer.async_wait([](std::exception_ptr, int) {});
    by_consumer.errback(std::make_exception_ptr(std::runtime_error("b")));

    deferred<int> by_then(io);
    auto t = by_then.then([](int x) { return x; });
    t.async_wait([](std::exception_ptr, int) {});
    by_then.errback(std::make_exception_ptr(std::runtime_error("c")));

    deferred<int> cancelled(io);
    cancelled.cancel();
    io.run();
  }
  BOOST_TEST(capture.messages.empty());
}

BOOST_AUTO_TEST_CASE(handler_is_replaceable_and_restorable)
{
  std::vector<int> seen;
  auto previous = coflow::set_unhandled_error_handler(
      [&](std::exception_ptr) { seen.push_back(1); });
  {
    asio::io_context io;
    deferred<void> d(io);
    d.errback(std::make_exception_ptr(std::runtime_error("x")));
  }
  auto mine = coflow::set_unhandled_error_handler(previous);
  BOOST_TEST(seen.size() == 1u);
  BOOST_TEST(static_cast<bool>(mine));
}

BOOST_AUTO_TEST_SUITE_END()


BOOST_AUTO_TEST_SUITE(coroutines)

BOOST_FIXTURE_TEST_CASE(cleanup_exception_is_reported, io_fixture)
{
  unhandled_capture capture;
  deferred<int> d(io);
  auto body = [&]() -> coroutine<void> {
    try
    {
      co_await d;
    }
    catch (...)
    {
      throw std::runtime_error("cleanup failed");
    }
  };
  auto c = coflow::spawn(io, body());
  poll();
  c.cancel();
  auto f = c.async_wait(asio::use_future);
  io.run();
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
  BOOST_TEST((capture.messages == std::vector<std::string>{"cleanup failed"}));
}

BOOST_AUTO_TEST_CASE(an_error_nobody_waits_for_is_reported)
{
  unhandled_capture capture;
  {
    asio::io_context io;
    auto failing = [](const char* what) -> coroutine<int> {
      co_await coflow::this_coro::executor;
      throw std::runtime_error(what);
    };
    auto cancelled = [&]() -> coroutine<void> {
      co_await asio::post(io, coflow::use_coroutine);
    };
    (void)coflow::spawn(io, failing("dropped handle"));
    auto kept = coflow::spawn(io, failing("kept handle"));
    auto waited = coflow::spawn(io, failing("waited later"));
    auto c = coflow::spawn(io, cancelled());
    c.cancel();
    io.run();
    BOOST_TEST((capture.messages == std::vector<std::string>{"dropped handle"}));
    io.restart();
    auto f = waited.async_wait(asio::use_future);
    io.run();
    BOOST_CHECK_THROW(f.get(), std::runtime_error);
  }
  // The kept handle goes with this scope; the error nobody received with it.
  BOOST_TEST((capture.messages == std::vector<std::string>{"dropped handle", "kept handle"}));
}

BOOST_AUTO_TEST_SUITE_END()
