//
// test/task_group.cpp: task_group and with_task_group (DESIGN.md §7): a
// dynamic group of children inside one awaited node, with the cascade to the
// body and every child, the first failure cancelling the rest, and the
// memory of finished children released at once.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE task_group
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coflow.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define COFLOW_TEST_ON_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define COFLOW_TEST_ON_VALGRIND() false
#endif

namespace asio = boost::asio;
using namespace std::chrono_literals;
using coflow::coroutine;
using coflow::deferred;
using coflow::task_group;
using coflow_test::cleanup;
using coflow_test::event_log;
using coflow_test::holds;
using coflow_test::io_fixture;
using coflow_test::received;
using coflow_test::unhandled_capture;

namespace {

// Names are `const char*`: see test/combinators.cpp (g++ 12 and the
// temporaries of a co_await that throws).

coroutine<void> posts(event_log& log, const char* name, int k)
{
  for (int i = 0; i < k; ++i)
    co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
  log.push_back(name);
}

coroutine<void> forever(event_log& log, const char* name)
{
  cleanup c{log, name};
  deferred<int> never(co_await coflow::this_coro::executor);
  co_await never;
}

coroutine<void> fails_after(event_log& log, const char* name, int k)
{
  cleanup c{log, name};
  for (int i = 0; i < k; ++i)
    co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
  throw std::runtime_error(name);
}

coroutine<void> counts(int& steps)
{
  for (;;)
  {
    co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
    ++steps;
  }
}

struct quiet_fixture : io_fixture
{
  unhandled_capture unhandled;
  ~quiet_fixture() { BOOST_TEST(unhandled.messages.empty()); }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(task_group_, quiet_fixture)

BOOST_AUTO_TEST_CASE(waits_for_the_body_and_every_child)
{
  event_log log;
  std::size_t seen_size = 0;
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
      g.spawn(posts(log, "child a", 3));
      g.spawn(posts(log, "child b", 1));
      seen_size = g.size();
      co_await posts(log, "body", 0);
    });
    log.push_back("group done");
  };
  auto f = coflow::spawn(io, root(), asio::use_future);
  run();
  f.get();
  BOOST_TEST(seen_size == 2u);
  BOOST_TEST(log == (event_log{"body", "child b", "child a", "group done"}));
}

BOOST_AUTO_TEST_CASE(a_childs_failure_cancels_the_rest_and_is_thrown_after_them)
{
  event_log log;
  auto root = [&]() -> coroutine<void> {
    try
    {
      co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
        g.spawn(forever(log, "child"));
        g.spawn(fails_after(log, "failing", 2));
        co_await forever(log, "body");
      });
    }
    catch (const std::runtime_error& e)
    {
      log.push_back(std::string("caught ") + e.what());
    }
  };
  auto f = coflow::spawn(io, root(), asio::use_future);
  run();
  f.get();
  BOOST_REQUIRE(log.size() == 4u);
  BOOST_TEST(log[0] == "failing cleanup");
  BOOST_TEST(log[3] == "caught failing"); // after the others' cleanup
}

BOOST_AUTO_TEST_CASE(the_bodys_failure_cancels_the_children)
{
  event_log log;
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
      g.spawn(forever(log, "child 1"));
      g.spawn(forever(log, "child 2"));
      co_await fails_after(log, "body", 1);
    });
  };
  received<void> r;
  coflow::spawn(io, root()).async_wait(r.handler());
  run();
  BOOST_TEST(coflow_test::message_of(r.error) == "body");
  BOOST_TEST(log.size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_child_cancelled_through_its_handle_is_no_failure)
{
  event_log log;
  std::optional<coroutine<void>> victim;
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
      victim = g.spawn(forever(log, "victim"));
      g.spawn(posts(log, "other", 3));
      co_return;
    });
    log.push_back("group done");
  };
  received<void> r;
  coflow::spawn(io, root()).async_wait(r.handler());
  poll();
  victim->cancel();
  run();
  BOOST_TEST(!r.error);
  BOOST_REQUIRE(log.size() == 3u);
  BOOST_TEST(log.back() == "group done");
}

BOOST_AUTO_TEST_CASE(a_cancel_from_inside_a_child_is_a_failure)
{
  // The child was not cancelled: something it awaited was (found by the
  // chaos test). Its cancelled_error is a failure like any other.
  event_log log;
  auto inner = forever(log, "inner");
  auto child = [&]() -> coroutine<void> { co_await inner; };
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
      g.spawn(child());
      co_await forever(log, "body");
    });
  };
  received<void> r;
  coflow::spawn(io, root()).async_wait(r.handler());
  poll();
  inner.cancel();
  run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST(log == (event_log{"inner cleanup", "body cleanup"}));
}

BOOST_AUTO_TEST_CASE(a_later_failure_is_reported_once)
{
  event_log log;
  // Cancelled inside its shields, it goes on, and fails after the first.
  auto stubborn = [](const char* what) -> coroutine<void> {
    co_await coflow::shield(asio::post(co_await coflow::this_coro::executor, asio::deferred));
    co_await coflow::shield(asio::post(co_await coflow::this_coro::executor, asio::deferred));
    co_await coflow::shield(asio::post(co_await coflow::this_coro::executor, asio::deferred));
    throw std::runtime_error(what);
  };
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
      g.spawn(stubborn("second"));
      g.spawn(fails_after(log, "first", 1));
      co_return;
    });
  };
  received<void> r;
  coflow::spawn(io, root()).async_wait(r.handler());
  run();
  BOOST_TEST(coflow_test::message_of(r.error) == "first");
  BOOST_TEST(unhandled.messages == std::vector<std::string>{"second"});
  unhandled.errors.clear();
  unhandled.messages.clear();
}

BOOST_AUTO_TEST_CASE(a_pause_reaches_the_body_and_every_child_also_later_ones)
{
  int body_steps = 0, a = 0, b = 0, late = 0;
  std::optional<task_group> group;
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
      group = g;
      g.spawn(counts(a));
      g.spawn(counts(b));
      co_await counts(body_steps);
    });
  };
  auto c = coflow::spawn(io, root());
  for (int i = 0; i < 20; ++i)
    io.run_one();
  c.pause();
  poll(); // what was on its way completes, and is held
  const int a0 = a, b0 = b, s0 = body_steps;
  asio::post(io, [&] { (void)group->spawn(counts(late)); }); // spawned while paused
  poll();
  poll();
  BOOST_TEST(a == a0);
  BOOST_TEST(b == b0);
  BOOST_TEST(body_steps == s0);
  BOOST_TEST(late == 0); // started paused
  BOOST_TEST(a0 + b0 + s0 > 0);
  BOOST_TEST(group->size() == 3u);
  c.unpause();
  for (int i = 0; i < 100; ++i)
    io.run_one();
  BOOST_TEST(late > 0);
  BOOST_TEST(a > a0);
  received<void> r;
  c.async_wait(r.handler());
  c.cancel();
  run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST(group->size() == 0u);
}

BOOST_AUTO_TEST_CASE(cancel_reaches_every_child_and_later_children_never_run)
{
  event_log log;
  bool late_ran = false;
  auto late = [&]() -> coroutine<void> {
    late_ran = true;
    co_return;
  };
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
      g.spawn(forever(log, "child"));
      bool cancelled = false;
      try
      {
        co_await forever(log, "body");
      }
      catch (const coflow::cancelled_error&)
      {
        cancelled = true;
      }
      if (cancelled)
        g.spawn(late()); // the group is cancelled: it never runs
    });
  };
  auto c = coflow::spawn(io, root());
  received<void> r;
  c.async_wait(r.handler());
  poll();
  c.cancel();
  run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST(!late_ran);
  BOOST_TEST(log.size() == 2u);
}

BOOST_AUTO_TEST_CASE(spawn_after_the_group_completed_throws)
{
  std::optional<task_group> kept;
  event_log log;
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
      kept = g;
      co_return;
    });
  };
  auto f = coflow::spawn(io, root(), asio::use_future);
  run();
  f.get();
  BOOST_CHECK_THROW((void)kept->spawn(posts(log, "x", 0)), std::logic_error);
}

BOOST_AUTO_TEST_CASE(spawn_on_a_kept_copy_after_a_cancelled_group_throws)
{
  // Found by a newcomer's trial (ASan, thread pool): the group's buried
  // entries made spawn read the awaiting coroutine after it was gone.
  for (int round = 0; round < 20; ++round)
  {
    std::optional<task_group> kept;
    std::optional<asio::thread_pool> pool(std::in_place, 2);
    std::atomic<int> steps{0};
    auto child = [&]() -> coroutine<void> {
      for (;;)
      {
        co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
        steps.fetch_add(1, std::memory_order_relaxed);
      }
    };
    auto root = [&]() -> coroutine<void> {
      co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
        kept = g;
        for (int i = 0; i < 8; ++i)
          g.spawn(child());
        co_await child();
      });
    };
    auto c = coflow::spawn(*pool, root());
    auto f = c.async_wait(asio::use_future);
    while (steps.load(std::memory_order_relaxed) < 20)
      std::this_thread::yield();
    c.cancel();
    BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
    pool->join();
    BOOST_CHECK_THROW((void)kept->spawn(child()), std::logic_error);
    pool.reset();
  }
}

BOOST_AUTO_TEST_CASE(a_hundred_thousand_children_keep_memory_flat)
{
  constexpr int children = 100000;
  int finished = 0;
  long rss_after_warmup = 0;
  std::size_t max_size = 0;
  auto child = [&]() -> coroutine<void> {
    co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
    ++finished;
  };
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
      for (int i = 0; i < children; ++i)
      {
        g.spawn(child());
        if (i % 100 == 99) // let them finish: at most ~100 live at once
          co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
        if (i == 1000)
          rss_after_warmup = coflow_test::peak_rss_kib();
        max_size = std::max(max_size, g.size());
      }
    });
  };
  auto f = coflow::spawn(io, root(), asio::use_future);
  run();
  f.get();
  const long growth = coflow_test::peak_rss_kib() - rss_after_warmup;
  std::cout << "task_group: " << children << " children, peak RSS growth after the first 1000: "
            << growth << " KiB, at most " << max_size << " live\n";
  BOOST_TEST(finished == children);
  BOOST_TEST(max_size <= 200u);
  // (Sanitizers and valgrind have allocators of their own: their RSS says
  // nothing about coflow's.)
  if (coflow_test::memory_figures_are_meaningful && !COFLOW_TEST_ON_VALGRIND())
    BOOST_TEST(growth < 4096); // 100 000 held children would take tens of MiB
}

BOOST_AUTO_TEST_CASE(shutdown_destroys_every_frame)
{
  auto alive = std::make_shared<int>(0);
  {
    asio::io_context io2;
    auto leaf = [](std::shared_ptr<int> alive) -> coroutine<void> {
      deferred<int> never(co_await coflow::this_coro::executor);
      *alive += co_await never;
    };
    auto root = [&]() -> coroutine<void> {
      co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
        g.spawn(leaf(alive));
        g.spawn(leaf(alive));
        co_await leaf(alive);
      });
    };
    coflow::spawn(io2, root(), asio::detached);
    io2.poll();
    BOOST_TEST(alive.use_count() == 4);
  }
  BOOST_TEST(alive.use_count() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(threads)

BOOST_AUTO_TEST_CASE(on_a_thread_pool_without_a_strand)
{
  for (int round = 0; round < 50; ++round)
  {
    asio::thread_pool pool(2);
    std::atomic<int> finished{0};
    auto child = [&]() -> coroutine<void> {
      for (int k = 0; k < 3; ++k)
        co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
      finished.fetch_add(1, std::memory_order_relaxed);
    };
    auto root = [&]() -> coroutine<void> {
      co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
        for (int i = 0; i < 50; ++i)
        {
          g.spawn(child());
          co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
        }
      });
    };
    auto f = coflow::spawn(pool, root(), asio::use_future);
    f.get();
    BOOST_TEST(finished.load() == 50);
    pool.join();
  }
}

BOOST_AUTO_TEST_CASE(controls_from_another_thread)
{
  for (int round = 0; round < 50; ++round)
  {
    asio::thread_pool pool(2);
    std::atomic<int> steps{0};
    auto child = [&]() -> coroutine<void> {
      for (;;)
      {
        co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
        steps.fetch_add(1, std::memory_order_relaxed);
      }
    };
    auto root = [&]() -> coroutine<void> {
      co_await coflow::with_task_group([&](task_group& g) -> coroutine<void> {
        for (;;)
        {
          g.spawn(child());
          co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
          if (g.size() > 20)
            co_await child();
        }
      });
    };
    auto c = coflow::spawn(pool, root());
    auto f = c.async_wait(asio::use_future);
    while (steps.load(std::memory_order_relaxed) < 20)
      std::this_thread::yield();
    c.pause();
    c.unpause();
    c.pause();
    c.cancel();
    BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
    pool.join();
  }
}

BOOST_AUTO_TEST_SUITE_END()
