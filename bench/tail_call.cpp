//
// bench/tail_call.cpp: coflow::tail_call against asio::awaitable recursion,
// same run.
//
//  swap      a chain of tail calls: ns per hop (coflow), against
//            `co_return co_await next()` with asio::awaitable: ns per level
//  bytes     memory in use at the bottom of a chain of 100 000, per level
//  raw       create + resume + destroy of a bare C++ coroutine frame (new /
//            delete), the floor a swap is compared with
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <coroutine>
#include <malloc.h>

namespace asio = boost::asio;

namespace {

constexpr long chain = 100000;

std::size_t bytes_in_use()
{
  return mallinfo2().uordblks;
}

std::size_t bytes_at_bottom = 0;

// --- coflow: tail calls ----------------------------------------------------

coflow::coroutine<long> coflow_hop(long n)
{
  if (n == 0)
  {
    bytes_at_bottom = bytes_in_use();
    co_return 0;
  }
  co_return co_await coflow::tail_call(coflow_hop(n - 1));
}

// --- asio: recursion -----------------------------------------------------------

asio::awaitable<long> asio_level(long n)
{
  if (n == 0)
  {
    bytes_at_bottom = bytes_in_use();
    co_return 0;
  }
  co_return co_await asio_level(n - 1);
}

template <class Run>
void per_level(benchmark::State& state, Run run)
{
  asio::io_context io(1);
  std::size_t growth = 0;
  for (auto _ : state)
  {
    const std::size_t before = bytes_in_use();
    run(io);
    io.run();
    io.restart();
    growth = bytes_at_bottom > before ? bytes_at_bottom - before : 0;
  }
  state.SetItemsProcessed(state.iterations() * chain);
  state.counters["bytes_per_level"] = static_cast<double>(growth) / chain;
}

void swap_asio_awaitable_recursion(benchmark::State& state)
{
  per_level(state, [](asio::io_context& io) {
    asio::co_spawn(io, asio_level(chain), asio::detached);
  });
}

void swap_coflow_tail_call(benchmark::State& state)
{
  per_level(state, [](asio::io_context& io) { (void)coflow::spawn(io, coflow_hop(chain)); });
}

// --- the floor: a bare coroutine frame -------------------------------------------

struct bare
{
  struct promise_type
  {
    bare get_return_object() { return {std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_value(long v) noexcept { value = v; }
    void unhandled_exception() noexcept {}
    long value = 0;
  };
  std::coroutine_handle<promise_type> h;
};

bare bare_frame(long n)
{
  co_return n;
}

void raw_frame_create_resume_destroy(benchmark::State& state)
{
  long sum = 0;
  for (auto _ : state)
  {
    bare b = bare_frame(1);
    b.h.resume();
    sum += b.h.promise().value;
    b.h.destroy();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}

} // namespace

BENCHMARK(swap_asio_awaitable_recursion)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(swap_coflow_tail_call)->Repetitions(5)->ReportAggregatesOnly(true);
BENCHMARK(raw_frame_create_resume_destroy)->Repetitions(5)->ReportAggregatesOnly(true);

BENCHMARK_MAIN();
