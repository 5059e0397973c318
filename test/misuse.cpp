//
// test/misuse.cpp: every row of doc/misuse.md: misuse gets a clear error,
// never undefined behaviour.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE misuse
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/error.hpp>
#include <coflow/join.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow::coroutine;
using coflow::deferred;
using coflow::tail_call;

namespace {

/// Whether @p e holds an exception of type E whose what() is @p message.
template <class E>
bool holds_message(std::exception_ptr e, const std::string& message)
{
  try
  {
    if (e)
      std::rethrow_exception(e);
  }
  catch (const E& x)
  {
    return x.what() == message;
  }
  catch (...)
  {
  }
  return false;
}

/// Runs @p body as a spawned coroutine and returns the error it completes
/// with (nullptr for a value).
template <class Body>
std::exception_ptr error_of(Body body)
{
  asio::io_context io;
  std::exception_ptr error;
  auto c = coflow::spawn(io, body());
  c.async_wait([&](std::exception_ptr e, auto...) { error = e; });
  io.run();
  return error;
}

template <class F>
std::exception_ptr thrown_by(F f)
{
  try
  {
    f();
  }
  catch (...)
  {
    return std::current_exception();
  }
  return nullptr;
}

} // namespace

BOOST_FIXTURE_TEST_CASE(firing_a_deferred_twice, io_fixture)
{
  deferred<int> d(io);
  d.callback(1);
  BOOST_TEST(holds_message<coflow::already_called_error>(
      thrown_by([&] { d.callback(2); }), "coflow: deferred already called"));
}

BOOST_FIXTURE_TEST_CASE(unpause_without_pause, io_fixture)
{
  deferred<int> d(io);
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { d.unpause(); }), "coflow: unpause() without a matching pause()"));
  auto body = []() -> coroutine<int> { co_return 1; };
  auto c = coflow::spawn(io, body());
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { c.unpause(); }), "coflow: unpause() without a matching pause()"));
  io.run();
}

BOOST_AUTO_TEST_CASE(a_forwarded_unpause_without_a_pause_on_another_executor)
{
  // A user unpauses a shared deferred that a coroutine paused (misuse: the
  // pause belongs to the deferred), so the coroutine's own unpause, which
  // it forwards, finds none. The forward is posted (the deferred lives on
  // another executor): its error reaches the unhandled-error handler, as it
  // does on the same executor, instead of escaping run().
  coflow_test::unhandled_capture capture;
  asio::io_context io;
  deferred<int> d(io);
  auto waits = [](deferred<int> x) -> coroutine<int> { co_return co_await x; };
  auto c = coflow::spawn(asio::make_strand(io), waits(d));
  io.poll();
  c.pause(); // forwarded to d, posted
  io.restart();
  io.poll();
  BOOST_TEST(d.pause_count() == 1u);
  d.unpause(); // the misuse
  c.unpause();
  io.restart();
  BOOST_CHECK_NO_THROW(io.poll());
  BOOST_TEST(capture.messages.size() == 1u);
  BOOST_TEST(capture.messages.at(0) == "coflow: unpause() without a matching pause()");
  c.cancel();
  d.callback(1);
  io.restart();
  io.run();
}

BOOST_FIXTURE_TEST_CASE(spawning_a_started_coroutine, io_fixture)
{
  auto body = []() -> coroutine<int> { co_return 1; };
  auto c = coflow::spawn(io, body());
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { (void)coflow::spawn(io, c); }), "coflow: the coroutine has already started"));
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { coflow::spawn(io, c, [](std::exception_ptr, int) {}); }),
      "coflow: the coroutine has already started"));
  io.run();
}

BOOST_AUTO_TEST_CASE(awaiting_an_empty_or_moved_from_handle)
{
  auto empty_coroutine = error_of([]() -> coroutine<int> {
    auto c = []() -> coroutine<int> { co_return 1; }();
    auto moved = std::move(c);
    (void)moved;
    co_return co_await c; // moved-from
  });
  BOOST_TEST(holds_message<std::logic_error>(
      empty_coroutine, "coflow: co_await of an empty coroutine handle"));

  auto empty_deferred = error_of([]() -> coroutine<int> {
    deferred<int> d;
    co_return co_await d;
  });
  BOOST_TEST(holds_message<std::logic_error>(
      empty_deferred, "coflow: co_await of an empty deferred handle"));
}

BOOST_AUTO_TEST_CASE(operations_on_an_empty_handle)
{
  coroutine<int> empty;
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { empty.pause(); }), "coflow: operation on an empty coroutine handle"));
  asio::io_context io;
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { (void)coflow::spawn(io, empty); }),
      "coflow: operation on an empty coroutine handle"));
  deferred<int> d;
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { d.callback(1); }), "coflow: operation on an empty deferred handle"));
}

BOOST_AUTO_TEST_CASE(waiting_on_a_coroutine_before_it_starts)
{
  // There is no result accessor that could be read early; a consumer needs
  // the coroutine's executor, which it has once started.
  auto body = []() -> coroutine<int> { co_return 1; };
  auto c = body();
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { c.async_wait([](std::exception_ptr, int) {}); }),
      "coflow: the coroutine has not started: spawn it or await it first"));
  BOOST_TEST(!c.called()); // the one "result" query: never throws
}

BOOST_FIXTURE_TEST_CASE(a_coroutine_awaiting_itself, io_fixture)
{
  coroutine<int> self;
  auto body = [&]() -> coroutine<int> { co_return co_await self; };
  self = coflow::spawn(io, body());
  std::exception_ptr error;
  self.async_wait([&](std::exception_ptr e, int) { error = e; });
  io.run();
  BOOST_TEST(holds_message<std::logic_error>(error, "coflow: a coroutine awaits itself"));
}

BOOST_AUTO_TEST_CASE(a_cycle_of_awaits)
{
  // a awaits b (a child, running inline), b awaits a: a cycle.
  asio::io_context io;
  coroutine<int> a;
  auto b_body = [&]() -> coroutine<int> { co_return co_await a; };
  auto a_body = [&]() -> coroutine<int> { co_return co_await b_body(); };
  a = coflow::spawn(io, a_body());
  std::exception_ptr error;
  a.async_wait([&](std::exception_ptr e, int) { error = e; });
  io.run();
  // b's co_await throws; b fails with it, and a with b's error.
  BOOST_TEST(holds_message<std::logic_error>(
      error, "coflow: a cycle of coroutines awaiting each other"));
}

BOOST_FIXTURE_TEST_CASE(a_coroutine_tail_calling_itself, io_fixture)
{
  coroutine<int> self;
  auto body = [&]() -> coroutine<int> { co_return co_await tail_call(self); };
  self = coflow::spawn(io, body());
  std::exception_ptr error;
  self.async_wait([&](std::exception_ptr e, int) { error = e; });
  io.run();
  BOOST_TEST(holds_message<std::logic_error>(error, "coflow: a coroutine tail-calls itself"));
}

BOOST_AUTO_TEST_CASE(a_coroutine_awaiting_its_own_deferred_view)
{
  // Through its deferred view, as through its handle: an error, not a hang.
  asio::io_context io;
  coroutine<int> self;
  auto awaits = [&]() -> coroutine<int> {
    deferred<int> view = self;
    co_return co_await view;
  };
  auto tail_calls = [&]() -> coroutine<int> {
    deferred<int> view = self;
    co_return co_await tail_call(view);
  };
  for (bool tail : {false, true})
  {
    self = coflow::spawn(io, tail ? tail_calls() : awaits());
    std::exception_ptr error;
    self.async_wait([&](std::exception_ptr e, int) { error = e; });
    io.restart();
    io.run();
    BOOST_TEST(holds_message<std::logic_error>(error,
        tail ? "coflow: a coroutine tail-calls itself" : "coflow: a coroutine awaits itself"));
  }
}

BOOST_AUTO_TEST_CASE(a_cycle_through_deferred_views)
{
  // a awaits b's view, b awaits a's: the second await closes the cycle.
  asio::io_context io;
  coroutine<int> a, b;
  deferred<void> go(io);
  auto a_body = [&]() -> coroutine<int> {
    co_await go;
    deferred<int> view = b;
    co_return co_await view;
  };
  auto b_body = [&]() -> coroutine<int> {
    co_await go;
    co_await asio::post(io, coflow::use_coroutine); // a waits on b's view by now
    deferred<int> view = a;
    co_return co_await view;
  };
  a = coflow::spawn(io, a_body());
  b = coflow::spawn(io, b_body());
  std::exception_ptr error_a, error_b;
  a.async_wait([&](std::exception_ptr e, int) { error_a = e; });
  b.async_wait([&](std::exception_ptr e, int) { error_b = e; });
  asio::post(io, [&] { go.callback(); });
  io.run();
  BOOST_TEST(holds_message<std::logic_error>(
      error_b, "coflow: a cycle of coroutines awaiting each other"));
  BOOST_TEST(holds_message<std::logic_error>(
      error_a, "coflow: a cycle of coroutines awaiting each other")); // b's error
}

BOOST_AUTO_TEST_CASE(tail_call_of_an_already_awaited_coroutine)
{
  // Not an error for a copyable result: every consumer receives it.
  asio::io_context io;
  deferred<int> d(io);
  auto shared = [](deferred<int> x) -> coroutine<int> { co_return co_await x; };
  auto target = coflow::spawn(io, shared(d));
  auto awaiting = [&]() -> coroutine<int> { co_return co_await target; };
  auto tail_calling = [&]() -> coroutine<int> { co_return co_await tail_call(target); };
  auto f1 = coflow::spawn(io, awaiting(), asio::use_future);
  auto f2 = coflow::spawn(io, tail_calling(), asio::use_future);
  io.poll();
  d.callback(8);
  io.restart();
  io.run();
  BOOST_TEST(f1.get() == 8);
  BOOST_TEST(f2.get() == 8);
}

BOOST_FIXTURE_TEST_CASE(a_move_only_result_consumed_twice, io_fixture)
{
  auto body = []() -> coroutine<std::unique_ptr<int>> { co_return std::make_unique<int>(4); };
  auto c = coflow::spawn(io, body());
  std::unique_ptr<int> first;
  std::exception_ptr second;
  c.async_wait([&](std::exception_ptr, std::unique_ptr<int> v) { first = std::move(v); });
  c.async_wait([&](std::exception_ptr e, std::unique_ptr<int>) { second = e; });
  io.run();
  BOOST_TEST(first != nullptr);
  BOOST_TEST(holds_message<std::logic_error>(
      second, "coflow: the move-only result was taken by an earlier consumer"));
}

namespace {

// std::is_copy_constructible is true for a vector of unique_ptr (its copy
// constructor fails only when instantiated): such a result once did not
// compile as soon as it was awaited.
using pointers = std::vector<std::unique_ptr<int>>;

coroutine<pointers> make_pointers(int n)
{
  pointers v;
  for (int i = 0; i < n; ++i)
    v.push_back(std::make_unique<int>(i));
  co_return v;
}

coroutine<std::size_t> await_pointers(asio::io_context& io)
{
  pointers a = co_await make_pointers(3); // a child awaited at once
  std::vector<coroutine<pointers>> branches;
  branches.push_back(make_pointers(1));
  branches.push_back(make_pointers(2));
  auto all = coflow::join(std::move(branches));
  std::vector<pointers> b = co_await std::move(all);
  auto started = coflow::spawn(io, make_pointers(4)); // through its shared state
  pointers c = co_await std::move(started);
  co_return a.size() + b[0].size() + b[1].size() + c.size();
}

} // namespace

BOOST_FIXTURE_TEST_CASE(a_container_of_move_only_elements_is_a_move_only_result, io_fixture)
{
  auto total = coflow::spawn(io, await_pointers(io), asio::use_future);
  auto c = coflow::spawn(io, make_pointers(5));
  std::size_t first = 0;
  std::exception_ptr second;
  c.async_wait([&](std::exception_ptr, pointers v) { first = v.size(); });
  c.async_wait([&](std::exception_ptr e, pointers) { second = e; });
  io.run();
  BOOST_TEST(total.get() == 10u);
  BOOST_TEST(first == 5u);
  BOOST_TEST(holds_message<std::logic_error>(
      second, "coflow: the move-only result was taken by an earlier consumer"));
}

BOOST_AUTO_TEST_CASE(destroying_the_context_while_coroutines_are_suspended)
{
  // Not an error: the frames are destroyed, their destructors run, their
  // consumers are destroyed without being invoked.
  bool frame_destroyed = false;
  bool consumer_invoked = false;
  {
    asio::io_context io;
    deferred<int> never(io);
    struct flag
    {
      bool& set;
      ~flag() { set = true; }
    };
    auto body = [&]() -> coroutine<int> {
      flag f{frame_destroyed};
      co_return co_await never;
    };
    auto c = coflow::spawn(io, body());
    c.async_wait([&](std::exception_ptr, int) { consumer_invoked = true; });
    io.poll();
  }
  BOOST_TEST(frame_destroyed);
  BOOST_TEST(!consumer_invoked);
}

BOOST_AUTO_TEST_CASE(firing_a_coroutines_deferred_view)
{
  // Only the body produces a coroutine's result: firing its deferred view
  // throws and changes nothing; the view and what is made from it work on.
  const std::string message =
      "coflow: a coroutine's result is produced by its body; it cannot be fired";
  asio::io_context io;
  deferred<int> gate(io);
  auto body = [](deferred<int> g) -> coroutine<int> { co_return co_await g + 1; };
  auto c = coflow::spawn(io, body(gate));
  io.poll(); // the body waits on the gate
  deferred<int> view = c;
  deferred<int> copy = view;
  deferred<int> doubled = view.then([](const int& x) { return x * 2; });
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { view.callback(99); }), message));
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { copy.errback(std::make_exception_ptr(std::runtime_error("x"))); }),
      message));
  BOOST_TEST(!view.called());
  BOOST_TEST(!c.called());

  int from_view = 0, from_then = 0, from_coroutine = 0;
  view.async_wait([&](std::exception_ptr, int v) { from_view = v; });
  doubled.async_wait([&](std::exception_ptr, int v) { from_then = v; });
  c.async_wait([&](std::exception_ptr, int v) { from_coroutine = v; });
  gate.callback(1);
  io.restart();
  io.run();
  BOOST_TEST(from_view == 2); // the body's result, not 99
  BOOST_TEST(from_then == 4);
  BOOST_TEST(from_coroutine == 2);
  // After the body's result: the same error, not already_called_error.
  BOOST_TEST(holds_message<std::logic_error>(
      thrown_by([&] { view.callback(3); }), message));
}

BOOST_AUTO_TEST_CASE(a_cycle_of_deferreds)
{
  // d1's callback returns d2, d2's returns d1: the chain that would close
  // the cycle fails instead of waiting forever.
  const std::string message = "coflow: a cycle of deferreds waiting on each other";
  asio::io_context io;
  std::exception_ptr e1, e2;
  {
    deferred<int> d1(io), d2(io);
    d1.add_callback([&](int) { return d2; });
    d2.add_callback([&](int) { return d1; });
    d1.async_wait([&](std::exception_ptr e, int) { e1 = e; });
    d2.async_wait([&](std::exception_ptr e, int) { e2 = e; });
    d1.callback(1);
    d2.callback(2);
  }
  io.run();
  BOOST_TEST(holds_message<std::logic_error>(e2, message));
  BOOST_TEST(holds_message<std::logic_error>(e1, message));
}
