//
// bench/nested.cpp: nested calls, coflow::coroutine against asio::awaitable,
// same run; modelled on folly's coro TaskBenchmark.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
//  (a) a synchronous task awaited in a loop: a void child that completes at
//      once (folly: SingleVoidSynchronousTaskInLoop)
//  (b) nested calls 3 deep: `if (depth > 0) co_await nested(depth - 1);`
//      (folly: NestedCalls3), four frames per call
//  (c) nested calls 10 deep (folly: NestedCalls10), eleven frames per call
//  (d) (c) with cancellation wired in (folly: NestedCallsWithCancellation10):
//      the outer coroutine is spawned with a token bound to a cancellation
//      slot, on both sides; the signal is never emitted. coflow wires its
//      own cancel through every level whatever the token; Asio's levels do
//      nothing special.
//
//  Each benchmark iteration spawns one outer body that loops 1 000 times;
//  items are loop iterations, so 1e9 / items_per_second is the CPU time of
//  one loop iteration (one call of the whole nest) in ns.
//

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

namespace asio = boost::asio;

namespace {

constexpr int per_run = 1000;

// --- the callees ---------------------------------------------------------------------

asio::awaitable<void> asio_sync_child()
{
  co_return;
}

coflow::coroutine<void> coflow_sync_child()
{
  co_return;
}

asio::awaitable<void> asio_nested(int depth)
{
  if (depth > 0)
    co_await asio_nested(depth - 1);
  co_return;
}

coflow::coroutine<void> coflow_nested(int depth)
{
  if (depth > 0)
    co_await coflow_nested(depth - 1);
  co_return;
}

// --- the outer bodies and their drivers --------------------------------------------------

/// `co_await call()` per_run times, in one asio::awaitable.
template <class Call>
asio::awaitable<void> asio_loop(Call call)
{
  for (int i = 0; i < per_run; ++i)
    co_await call();
}

template <class Call>
coflow::coroutine<void> coflow_loop(Call call)
{
  for (int i = 0; i < per_run; ++i)
    co_await call();
}

/// One spawn of the outer body per iteration; with a cancellation slot bound
/// to the completion token when @p wired.
template <class Call>
void run_asio(benchmark::State& state, Call call, bool wired = false)
{
  asio::io_context io(1);
  asio::cancellation_signal signal;
  for (auto _ : state)
  {
    if (wired)
      asio::co_spawn(io, asio_loop(call), asio::bind_cancellation_slot(signal.slot(), asio::detached));
    else
      asio::co_spawn(io, asio_loop(call), asio::detached);
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * per_run);
}

template <class Call>
void run_coflow(benchmark::State& state, Call call, bool wired = false)
{
  asio::io_context io(1);
  asio::cancellation_signal signal;
  for (auto _ : state)
  {
    if (wired)
      coflow::spawn(io, coflow_loop(call), asio::bind_cancellation_slot(signal.slot(), asio::detached));
    else
      coflow::spawn(io, coflow_loop(call), asio::detached);
    io.run();
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * per_run);
}

// --- (a) a synchronous task in a loop ------------------------------------------------------

void a_asio_sync_task_in_loop(benchmark::State& state)
{
  run_asio(state, [] { return asio_sync_child(); });
}

void a_coflow_sync_task_in_loop(benchmark::State& state)
{
  run_coflow(state, [] { return coflow_sync_child(); });
}

// --- (b) nested calls, 3 deep ------------------------------------------------------------

void b_asio_nested_3(benchmark::State& state)
{
  run_asio(state, [] { return asio_nested(3); });
}

void b_coflow_nested_3(benchmark::State& state)
{
  run_coflow(state, [] { return coflow_nested(3); });
}

// --- (c) nested calls, 10 deep -----------------------------------------------------------

void c_asio_nested_10(benchmark::State& state)
{
  run_asio(state, [] { return asio_nested(10); });
}

void c_coflow_nested_10(benchmark::State& state)
{
  run_coflow(state, [] { return coflow_nested(10); });
}

// --- (d) nested calls, 10 deep, cancellation wired in ---------------------------------

void d_asio_nested_10_cancellable(benchmark::State& state)
{
  run_asio(state, [] { return asio_nested(10); }, true);
}

void d_coflow_nested_10_cancellable(benchmark::State& state)
{
  run_coflow(state, [] { return coflow_nested(10); }, true);
}

} // namespace

// Medians of five repetitions, as in bench/coroutine.cpp.
#define COFLOW_BENCH(name) BENCHMARK(name)->Repetitions(5)->ReportAggregatesOnly(true)

COFLOW_BENCH(a_asio_sync_task_in_loop);
COFLOW_BENCH(a_coflow_sync_task_in_loop);
COFLOW_BENCH(b_asio_nested_3);
COFLOW_BENCH(b_coflow_nested_3);
COFLOW_BENCH(c_asio_nested_10);
COFLOW_BENCH(c_coflow_nested_10);
COFLOW_BENCH(d_asio_nested_10_cancellable);
COFLOW_BENCH(d_coflow_nested_10_cancellable);

BENCHMARK_MAIN();
