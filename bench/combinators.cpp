//
// bench/combinators.cpp: coflow's combinators against Asio's awaitable
// operators, same run.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
//  (a) join of two children that post once vs `a() && b()`
//  (b) race of a child that posts once and a 1-hour sleep vs `a() || sleep()`
//      (the loser is cancelled, and its cancellation awaited, on both sides)
//  (c) timeout of a child that completes at once vs `child() || timer`
//  (d) pause + unpause of a join of 1 000 suspended branches, per branch (no
//      peer has it)
//  (e) task_group spawn + completion of a trivial child vs co_spawn
//

#include <coflow/coroutine.hpp>
#include <coflow/join.hpp>
#include <coflow/race.hpp>
#include <coflow/sleep.hpp>
#include <coflow/spawn.hpp>
#include <coflow/task_group.hpp>
#include <coflow/timeout.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <vector>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr int per_run = 100;

asio::awaitable<int> asio_posts_once(int v)
{
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  co_return v;
}

coflow::coroutine<int> coflow_posts_once(int v)
{
  co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
  co_return v;
}

asio::awaitable<int> asio_ready(int v)
{
  co_return v;
}

coflow::coroutine<int> coflow_ready(int v)
{
  co_return v;
}

asio::awaitable<void> asio_sleep_an_hour()
{
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
  co_await t.async_wait(asio::use_awaitable);
}

/// Runs @p body (a coroutine of `per_run` operations) once per iteration.
template <class Body>
void run_asio(benchmark::State& state, Body body)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    asio::co_spawn(io, body(), asio::detached);
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * per_run);
}

template <class Body>
void run_coflow(benchmark::State& state, Body body)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    (void)coflow::spawn(io, body());
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * per_run);
}

// --- (a) join -------------------------------------------------------------------

void a_asio_and(benchmark::State& state)
{
  run_asio(state, []() -> asio::awaitable<void> {
    long sum = 0;
    for (int i = 0; i < per_run; ++i)
    {
      auto [x, y] = co_await (asio_posts_once(i) && asio_posts_once(1));
      sum += x + y;
    }
    benchmark::DoNotOptimize(sum);
  });
}

void a_coflow_join(benchmark::State& state)
{
  run_coflow(state, []() -> coflow::coroutine<void> {
    long sum = 0;
    for (int i = 0; i < per_run; ++i)
    {
      auto [x, y] = co_await coflow::join(coflow_posts_once(i), coflow_posts_once(1));
      sum += x + y;
    }
    benchmark::DoNotOptimize(sum);
  });
}

// --- (b) race -------------------------------------------------------------------

void b_asio_or(benchmark::State& state)
{
  run_asio(state, []() -> asio::awaitable<void> {
    long sum = 0;
    for (int i = 0; i < per_run; ++i)
    {
      auto v = co_await (asio_posts_once(i) || asio_sleep_an_hour());
      sum += static_cast<long>(v.index());
    }
    benchmark::DoNotOptimize(sum);
  });
}

void b_coflow_race(benchmark::State& state)
{
  run_coflow(state, []() -> coflow::coroutine<void> {
    long sum = 0;
    for (int i = 0; i < per_run; ++i)
    {
      auto v = co_await coflow::race(coflow_posts_once(i), coflow::sleep(std::chrono::hours(1)));
      sum += static_cast<long>(v.index());
    }
    benchmark::DoNotOptimize(sum);
  });
}

// --- (c) timeout of a ready child ---------------------------------------------------

void c_asio_or_timer(benchmark::State& state)
{
  run_asio(state, []() -> asio::awaitable<void> {
    long sum = 0;
    for (int i = 0; i < per_run; ++i)
    {
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::hours(1));
      auto v = co_await (asio_ready(i) || timer.async_wait(asio::use_awaitable));
      sum += std::get<0>(v);
    }
    benchmark::DoNotOptimize(sum);
  });
}

void c_coflow_timeout(benchmark::State& state)
{
  run_coflow(state, []() -> coflow::coroutine<void> {
    long sum = 0;
    for (int i = 0; i < per_run; ++i)
      sum += co_await coflow::timeout(std::chrono::hours(1), coflow_ready(i));
    benchmark::DoNotOptimize(sum);
  });
}

// --- (d) pause + unpause of a fan-out --------------------------------------------------

constexpr int fan_out = 1000;

void d_coflow_pause_unpause_join(benchmark::State& state)
{
  asio::io_context io(1);
  std::vector<coflow::coroutine<void>> branches;
  for (int i = 0; i < fan_out; ++i)
    branches.push_back(coflow::sleep(std::chrono::hours(1)));
  auto c = coflow::spawn(io, coflow::join(std::move(branches)));
  io.poll();
  io.restart();
  for (auto _ : state)
  {
    c.pause();
    c.unpause();
  }
  state.SetItemsProcessed(state.iterations() * fan_out);
  c.cancel();
  io.run();
}

// --- (e) task_group spawn + completion ----------------------------------------------

constexpr int group_children = 1000;

asio::awaitable<void> asio_trivial()
{
  co_return;
}

coflow::coroutine<void> coflow_trivial()
{
  co_return;
}

void e_asio_co_spawn(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    for (int i = 0; i < group_children; ++i)
      asio::co_spawn(io, asio_trivial(), asio::detached);
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * group_children);
}

void e_coflow_task_group_spawn(benchmark::State& state)
{
  asio::io_context io(1);
  auto body = [](coflow::task_group& g) -> coflow::coroutine<void> {
    for (int i = 0; i < group_children; ++i)
      g.spawn(coflow_trivial());
    co_return;
  };
  for (auto _ : state)
  {
    (void)coflow::spawn(io, coflow::with_task_group(body));
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * group_children);
}

} // namespace

#define COFLOW_BENCH(name) BENCHMARK(name)->Repetitions(5)->ReportAggregatesOnly(true)

COFLOW_BENCH(a_asio_and);
COFLOW_BENCH(a_coflow_join);
COFLOW_BENCH(b_asio_or);
COFLOW_BENCH(b_coflow_race);
COFLOW_BENCH(c_asio_or_timer);
COFLOW_BENCH(c_coflow_timeout);
COFLOW_BENCH(d_coflow_pause_unpause_join);
COFLOW_BENCH(e_asio_co_spawn);
COFLOW_BENCH(e_coflow_task_group_spawn);

BENCHMARK_MAIN();
