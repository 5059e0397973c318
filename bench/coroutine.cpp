//
// bench/coroutine.cpp: coflow::coroutine against asio::awaitable, same run.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
//  (a) co_await of a child that completes at once
//  (b) co_await asio::post(...) with use_coroutine vs use_awaitable
//  (c) spawn + completion of a trivial coroutine vs co_spawn
//  (d) bytes per suspended coroutine waiting on a timer (100 000 of them)
//  (e) cancel of a 1 000-deep chain, per level (asio: the leaf timer cancelled
//      through the co_spawn slot); pause + unpause of the chain, per level
//  (f) an exception thrown at the bottom of a 1 000-deep chain, rethrown at
//      every level up to the root, per level
//

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <malloc.h>
#include <stdexcept>
#include <vector>

namespace asio = boost::asio;

// --- memory in use, for (d): glibc's count of bytes allocated and not freed

namespace {
std::size_t bytes_in_use()
{
  return mallinfo2().uordblks;
}
} // namespace

namespace {

// --- (a) a child that completes at once ----------------------------------------

coflow::coroutine<int> coflow_ready_child(int i) { co_return i; }

asio::awaitable<int> asio_ready_child(int i) { co_return i; }

void a_asio_awaitable_ready_child(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    asio::co_spawn(io,
        [&]() -> asio::awaitable<void> {
          long sum = 0;
          for (int i = 0; i < 1000; ++i)
            sum += co_await asio_ready_child(i);
          benchmark::DoNotOptimize(sum);
        },
        asio::detached);
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}

void a_coflow_ready_child(benchmark::State& state)
{
  asio::io_context io(1);
  // The closure must outlive the coroutine: its captures live there.
  auto body = [&]() -> coflow::coroutine<void> {
    long sum = 0;
    for (int i = 0; i < 1000; ++i)
      sum += co_await coflow_ready_child(i);
    benchmark::DoNotOptimize(sum);
  };
  for (auto _ : state)
  {
    (void)coflow::spawn(io, body());
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}

// --- (b) co_await asio::post -------------------------------------------------------

void b_asio_post_use_awaitable(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    asio::co_spawn(io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 1000; ++i)
            co_await asio::post(io, asio::use_awaitable);
        },
        asio::detached);
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}

void b_coflow_post_use_coroutine(benchmark::State& state)
{
  asio::io_context io(1);
  auto body = [&]() -> coflow::coroutine<void> {
    for (int i = 0; i < 1000; ++i)
      co_await asio::post(io, coflow::use_coroutine);
  };
  for (auto _ : state)
  {
    (void)coflow::spawn(io, body());
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}

// --- (c) spawn + completion of a trivial coroutine ---------------------------------

asio::awaitable<void> asio_trivial() { co_return; }
coflow::coroutine<void> coflow_trivial() { co_return; }

void c_asio_co_spawn(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    for (int i = 0; i < 1000; ++i)
      asio::co_spawn(io, asio_trivial(), asio::detached);
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}

void c_coflow_spawn(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    for (int i = 0; i < 1000; ++i)
      (void)coflow::spawn(io, coflow_trivial());
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}

// --- (d) bytes per suspended coroutine waiting on a timer --------------------------

constexpr int suspended_count = 100000;

asio::awaitable<void> asio_timer_waiter(asio::steady_timer& t)
{
  co_await t.async_wait(asio::use_awaitable);
}

coflow::coroutine<void> coflow_timer_waiter(asio::steady_timer& t)
{
  // The timers are cancelled at the end: an error nobody waits for would be
  // reported (as co_spawn's detached drops it, this drops it here).
  try
  {
    co_await t.async_wait(coflow::use_coroutine);
  }
  catch (const boost::system::system_error&)
  {
  }
}

template <class Spawn>
void suspended_bytes(benchmark::State& state, Spawn spawn)
{
  for (auto _ : state)
  {
    asio::io_context io(1);
    std::vector<asio::steady_timer> timers;
    timers.reserve(suspended_count);
    for (int i = 0; i < suspended_count; ++i)
      timers.emplace_back(io, std::chrono::hours(1));
    io.poll(); // let services and thread-local caches settle
    io.restart();
    std::size_t before = bytes_in_use();
    for (auto& t : timers)
      spawn(io, t);
    io.poll(); // every coroutine starts and suspends on its timer
    std::size_t after = bytes_in_use();
    state.counters["bytes_per_coroutine"] =
        static_cast<double>(after - before) / suspended_count;
    for (auto& t : timers)
      t.cancel();
    io.restart();
    io.run();
  }
}

void d_asio_suspended_bytes(benchmark::State& state)
{
  suspended_bytes(state, [](asio::io_context& io, asio::steady_timer& t) {
    asio::co_spawn(io, asio_timer_waiter(t), asio::detached);
  });
}

void d_coflow_suspended_bytes(benchmark::State& state)
{
  suspended_bytes(state, [](asio::io_context& io, asio::steady_timer& t) {
    (void)coflow::spawn(io, coflow_timer_waiter(t));
  });
}

// --- (e) a 1 000-deep chain: cancel, pause + unpause ----------------------------------

constexpr int chain_depth = 1000;

asio::awaitable<void> asio_chain(int depth)
{
  if (depth == 0)
  {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
    co_await t.async_wait(asio::use_awaitable);
  }
  else
    co_await asio_chain(depth - 1);
}

coflow::coroutine<void> coflow_chain(int depth)
{
  if (depth == 0)
  {
    asio::steady_timer t(co_await coflow::this_coro::executor, std::chrono::hours(1));
    co_await t.async_wait(coflow::use_coroutine);
  }
  else
    co_await coflow_chain(depth - 1);
}

void e_asio_cancel_chain(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    state.PauseTiming();
    asio::cancellation_signal signal;
    asio::co_spawn(io, asio_chain(chain_depth),
        asio::bind_cancellation_slot(signal.slot(), [](std::exception_ptr) {}));
    io.poll();
    io.restart();
    state.ResumeTiming();
    signal.emit(asio::cancellation_type::terminal);
    io.run(); // the whole chain unwinds
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * chain_depth);
}

void e_coflow_cancel_chain(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    state.PauseTiming();
    auto c = coflow::spawn(io, coflow_chain(chain_depth));
    io.poll();
    io.restart();
    state.ResumeTiming();
    c.cancel();
    io.run(); // the whole chain unwinds
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * chain_depth);
}

void e_coflow_pause_unpause_chain(benchmark::State& state)
{
  asio::io_context io(1);
  auto c = coflow::spawn(io, coflow_chain(chain_depth));
  io.poll();
  io.restart();
  for (auto _ : state)
  {
    c.pause();
    c.unpause();
  }
  state.SetItemsProcessed(state.iterations() * chain_depth);
  c.cancel();
  io.run();
}

// --- (f) an error thrown at the bottom of a 1 000-deep chain, rethrown at every level

asio::awaitable<void> asio_failing_chain(int depth)
{
  if (depth == 0)
    throw std::runtime_error("bottom");
  co_await asio_failing_chain(depth - 1);
}

coflow::coroutine<void> coflow_failing_chain(int depth)
{
  if (depth == 0)
    throw std::runtime_error("bottom");
  co_await coflow_failing_chain(depth - 1);
}

void f_asio_error_chain(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    asio::co_spawn(io, asio_failing_chain(chain_depth), [](std::exception_ptr e) {
      benchmark::DoNotOptimize(e);
    });
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * chain_depth);
}

void f_coflow_error_chain(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    coflow::spawn(io, coflow_failing_chain(chain_depth), [](std::exception_ptr e) {
      benchmark::DoNotOptimize(e);
    });
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * chain_depth);
}

} // namespace

// Time-based comparisons repeat (medians are reported): on a shared 2-core
// machine a single run of a 12 ns loop moves by several per cent.
#define COFLOW_BENCH(name) BENCHMARK(name)->Repetitions(5)->ReportAggregatesOnly(true)

COFLOW_BENCH(a_asio_awaitable_ready_child);
COFLOW_BENCH(a_coflow_ready_child);
COFLOW_BENCH(b_asio_post_use_awaitable);
COFLOW_BENCH(b_coflow_post_use_coroutine);
COFLOW_BENCH(c_asio_co_spawn);
COFLOW_BENCH(c_coflow_spawn);
BENCHMARK(d_asio_suspended_bytes)->Iterations(3);
BENCHMARK(d_coflow_suspended_bytes)->Iterations(3);
COFLOW_BENCH(e_asio_cancel_chain);
COFLOW_BENCH(e_coflow_cancel_chain);
COFLOW_BENCH(e_coflow_pause_unpause_chain);
COFLOW_BENCH(f_asio_error_chain);
COFLOW_BENCH(f_coflow_error_chain);

BENCHMARK_MAIN();
