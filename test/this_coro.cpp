//
// test/this_coro.cpp: coflow/this_coro.hpp: `co_await
// coflow::this_coro::executor` gives the coroutine's executor, never
// suspends, and is exempt from the sticky cancel (doc/coroutine.md).
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE this_coro
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/this_coro.hpp>

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/error.hpp>
#include <coflow/spawn.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>

#include <type_traits>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow::coroutine;
using coflow::deferred;
using coflow_test::holds;
using coflow_test::received;

static_assert(std::is_same_v<decltype(coflow::this_coro::executor),
    const coflow::this_coro::executor_t>);

BOOST_FIXTURE_TEST_SUITE(which_executor, io_fixture)

BOOST_AUTO_TEST_CASE(this_coro_executor)
{
  auto body = [&]() -> coroutine<bool> {
    auto ex = co_await coflow::this_coro::executor;
    co_return ex == asio::any_io_executor(io.get_executor());
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get());
}


BOOST_AUTO_TEST_CASE(the_one_spawn_was_given_a_strand)
{
  auto strand = asio::make_strand(io);
  bool in_strand = false;
  auto body = [&]() -> coroutine<bool> {
    auto ex = co_await coflow::this_coro::executor;
    in_strand = strand.running_in_this_thread();
    co_return ex == asio::any_io_executor(strand);
  };
  auto c = coflow::spawn(strand, body());
  auto f = c.async_wait(asio::use_future);
  io.run();
  BOOST_TEST(f.get());
  BOOST_TEST(in_strand);
  BOOST_TEST((c.get_executor() == asio::any_io_executor(strand)));
}

BOOST_AUTO_TEST_CASE(a_child_awaited_inline_has_its_parents)
{
  // An unstarted child runs inline on the awaiter's executor; a child
  // spawned elsewhere keeps its own.
  auto strand = asio::make_strand(io);
  auto executor_of_body = []() -> coroutine<asio::any_io_executor> {
    co_return co_await coflow::this_coro::executor;
  };
  asio::any_io_executor parent, inline_child, spawned_child;
  auto body = [&]() -> coroutine<void> {
    parent = co_await coflow::this_coro::executor;
    inline_child = co_await executor_of_body();
    spawned_child = co_await coflow::spawn(io, executor_of_body());
  };
  auto f = coflow::spawn(strand, body(), asio::use_future);
  io.run();
  f.get();
  BOOST_TEST((parent == asio::any_io_executor(strand)));
  BOOST_TEST((inline_child == parent));
  BOOST_TEST((spawned_child == asio::any_io_executor(io.get_executor())));
  BOOST_TEST((spawned_child != parent));
}

BOOST_AUTO_TEST_CASE(of_the_coroutines_executor_type)
{
  using strand_type = asio::strand<asio::io_context::executor_type>;
  strand_type strand(io.get_executor());
  auto body = [&]() -> coroutine<bool, strand_type> {
    auto ex = co_await coflow::this_coro::executor;
    static_assert(std::is_same_v<decltype(ex), strand_type>);
    co_return ex == strand;
  };
  auto f = coflow::spawn(strand, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(awaiting_it, io_fixture)

BOOST_AUTO_TEST_CASE(never_suspends)
{
  // A suspension would go through the executor: as many handlers run for a
  // body that awaits the tag a thousand times as for one that awaits nothing.
  auto awaits_nothing = []() -> coroutine<void> { co_return; };
  auto awaits_the_tag = []() -> coroutine<void> {
    for (int i = 0; i < 1000; ++i)
      (void)co_await coflow::this_coro::executor;
  };
  auto posts_once = [this]() -> coroutine<void> {
    co_await asio::post(io, coflow::use_coroutine);
  };
  coflow::spawn(io, awaits_nothing(), asio::detached);
  const std::size_t baseline = run();
  coflow::spawn(io, awaits_the_tag(), asio::detached);
  const std::size_t with_the_tag = run();
  coflow::spawn(io, posts_once(), asio::detached);
  const std::size_t with_a_suspension = run();
  BOOST_TEST(with_the_tag == baseline);
  BOOST_TEST(with_a_suspension > baseline); // the count sees a suspension
}

BOOST_AUTO_TEST_CASE(exempt_from_the_sticky_cancel)
{
  // Once cancelled, every suspension point of the body throws
  // cancelled_error (sticky), but this tag does not.
  deferred<int> never(io);
  bool caught = false, got_executor = false;
  auto body = [&]() -> coroutine<int> {
    try
    {
      co_await never;
    }
    catch (const coflow::cancelled_error&)
    {
      caught = true;
    }
    auto ex = co_await coflow::this_coro::executor;
    got_executor = ex == asio::any_io_executor(io.get_executor());
    co_return 1;
  };
  auto c = coflow::spawn(io, body());
  received<int> r;
  c.async_wait(r.handler());
  poll();
  c.cancel();
  io.run();
  BOOST_TEST(caught);
  BOOST_TEST(got_executor);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error)); // still cancelled
}

BOOST_AUTO_TEST_SUITE_END()
