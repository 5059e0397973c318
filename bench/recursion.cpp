//
// bench/recursion.cpp: deep recursion, coflow::coroutine against
// asio::awaitable, same run.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
//  (a) `co_return 1 + co_await rec(n - 1);` from a depth of 10 to 10^6 (the
//      benchmark's argument), spawned on a single-threaded io_context, to its
//      result (checked). Every frame of the chain is alive at the bottom.
//
//  Time per level: items are levels (SetItemsProcessed(depth * iterations)),
//  so items_per_second is levels per second and 1e9 / items_per_second the
//  CPU time per level in ns. The spawn and the result's delivery are in the
//  time: at a depth of 10 they weigh as much as the levels.
//
//  Bytes per level (counter "bytes_per_level"): glibc's bytes in use
//  (mallinfo2().uordblks) at the bottom of the recursion, less those before
//  the spawn, divided by the depth. Measured once per depth, in a run of its
//  own before the timed ones (mallinfo2 walks the heap's bins: it is not in
//  the timed runs, whose bottom only tests a flag).
//
//  Both sides take 10^6 levels: coflow runs a child awaited at once nested in
//  its parent, but in constant stack (doc/design.md); asio::awaitable keeps
//  its frames on the heap and resumes them from its own loop.
//

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <cstddef>
#include <exception>
#include <malloc.h>

namespace asio = boost::asio;

namespace {

std::size_t bytes_in_use()
{
  return mallinfo2().uordblks;
}

// The hook at the bottom of the recursion: armed for the one measuring run.
bool measure_at_bottom = false;
std::size_t bytes_at_bottom = 0;

inline void at_bottom()
{
  if (measure_at_bottom)
    bytes_at_bottom = bytes_in_use();
}

// --- (a) the recursion, on each side ----------------------------------------------

coflow::coroutine<long> coflow_rec(long n)
{
  if (n == 0)
  {
    at_bottom();
    co_return 0;
  }
  co_return 1 + co_await coflow_rec(n - 1);
}

asio::awaitable<long> asio_rec(long n)
{
  if (n == 0)
  {
    at_bottom();
    co_return 0;
  }
  co_return 1 + co_await asio_rec(n - 1);
}

/// Runs @p spawn(io, depth, handler) once measuring, then in the timed loop;
/// the handler gets `(std::exception_ptr, long)`, as co_spawn's.
template <class Spawn>
void recursion(benchmark::State& state, Spawn spawn)
{
  const long depth = state.range(0);
  asio::io_context io(1);
  std::exception_ptr error;
  long result = -1;
  auto done = [&](std::exception_ptr e, long v) {
    error = e;
    result = v;
  };
  auto run_once = [&] {
    result = -1;
    spawn(io, depth, done);
    io.run();
    io.restart();
  };

  // The measuring run, also a warm-up of the allocator for the timed ones.
  measure_at_bottom = true;
  bytes_at_bottom = 0;
  const std::size_t before = bytes_in_use();
  run_once();
  measure_at_bottom = false;
  const std::size_t growth = bytes_at_bottom > before ? bytes_at_bottom - before : 0;

  for (auto _ : state)
    run_once();

  if (error || result != depth)
  {
    state.SkipWithError("the recursion did not return its depth");
    return;
  }
  state.SetItemsProcessed(state.iterations() * depth);
  state.counters["bytes_per_level"] = static_cast<double>(growth) / static_cast<double>(depth);
}

void a_asio_recursion(benchmark::State& state)
{
  recursion(state, [](asio::io_context& io, long depth, auto& done) {
    asio::co_spawn(io, asio_rec(depth), done);
  });
}

void a_coflow_recursion(benchmark::State& state)
{
  recursion(state, [](asio::io_context& io, long depth, auto& done) {
    coflow::spawn(io, coflow_rec(depth), done);
  });
}

} // namespace

// Medians of five repetitions: on a shared machine one run of the short
// depths moves by several per cent.
#define COFLOW_BENCH(name)                                                                \
  BENCHMARK(name)->RangeMultiplier(10)->Range(10, 1000000)->Repetitions(5)->ReportAggregatesOnly(true)

COFLOW_BENCH(a_asio_recursion);
COFLOW_BENCH(a_coflow_recursion);

BENCHMARK_MAIN();
