//
// bench/deferred.cpp: the cost of a deferred as a one-shot result awaited
// from asio::awaitable, next to the cheapest Asio round trip through the
// executor (co_await asio::post), in the same run.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/deferred.hpp>
#include <coflow/use_deferred.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

namespace asio = boost::asio;

namespace {

/// Runs @p body(iterations) as one awaitable on a fresh io_context.
template <class Body>
void run_awaitable(benchmark::State& state, Body body)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    state.PauseTiming();
    io.restart();
    state.ResumeTiming();
    asio::co_spawn(io, body(io, state.range(0)), asio::detached);
    io.run();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// Baseline: one trip through the executor per iteration.
void asio_post_use_awaitable(benchmark::State& state)
{
  run_awaitable(state, [](asio::io_context& io, long n) -> asio::awaitable<void> {
    for (long i = 0; i < n; ++i)
      co_await asio::post(io, asio::use_awaitable);
  });
}

// A deferred fired in advance and awaited: allocation of the shared state,
// a consumer link, and the same one trip through the executor.
void coflow_fired_deferred_async_wait(benchmark::State& state)
{
  run_awaitable(state, [](asio::io_context& io, long n) -> asio::awaitable<void> {
    for (long i = 0; i < n; ++i)
    {
      coflow::deferred<int> d(io);
      d.callback(static_cast<int>(i));
      benchmark::DoNotOptimize(co_await d.async_wait(asio::use_awaitable));
    }
  });
}

// An Asio operation turned into a deferred and awaited: two trips (the
// operation's completion, then the consumer's).
void coflow_use_deferred_post(benchmark::State& state)
{
  run_awaitable(state, [](asio::io_context& io, long n) -> asio::awaitable<void> {
    for (long i = 0; i < n; ++i)
      co_await asio::post(io, coflow::use_deferred).async_wait(asio::use_awaitable);
  });
}

// Twisted-style synchronous chain: fire a deferred through three callbacks,
// no executor involved.
void coflow_callback_chain(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    coflow::deferred<int> d(io);
    d.add_callback([](int x) { return x + 1; })
        .add_callback([](int x) { return x * 2; })
        .add_callback([](int x) { return x - 1; });
    d.callback(1);
  }
}

} // namespace

BENCHMARK(asio_post_use_awaitable)->Arg(10000);
BENCHMARK(coflow_fired_deferred_async_wait)->Arg(10000);
BENCHMARK(coflow_use_deferred_post)->Arg(10000);
BENCHMARK(coflow_callback_chain);

BENCHMARK_MAIN();
