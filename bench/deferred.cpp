//
// bench/deferred.cpp: a deferred as a one-shot result, next to the Asio round
// trip through the executor it needs (co_await asio::post), same run.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
//  (a) a deferred fired in advance, awaited from asio::awaitable through
//      async_wait(use_awaitable): a new deferred, callback(), the wait (one
//      trip through the executor, as the peer's post)
//  (b) the same deferred awaited from a coflow body (co_await d): it needs no
//      trip at all; against the same peer
//  (c) asio::post(io, use_deferred) awaited from asio::awaitable: two trips
//      (the operation's completion, then the consumer's), against two posts
//
// Every benchmark reports allocs_per_item: calls of operator new per item
// (this program replaces it with a counting one). Asio's own handler memory
// comes from its per-thread recycling cache, not from operator new, on both
// sides.
//

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/spawn.hpp>
#include <coflow/use_deferred.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <new>
#include <type_traits>

namespace asio = boost::asio;

// --- counting operator new -------------------------------------------------------

namespace {
long allocations = 0; // the benchmarks run on one thread
} // namespace

// Out of line: inlined, g++ would pair the free() below with new-expressions
// and warn of a mismatch.
[[gnu::noinline]] void* operator new(std::size_t n)
{
  ++allocations;
  if (void* p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc();
}

[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

/// Runs @p body(io, n) as one coroutine, launched by co_spawn (an
/// asio::awaitable) or coflow::spawn (a coflow coroutine), per iteration.
template <class Body>
void run_loop(benchmark::State& state, Body body)
{
  asio::io_context io(1);
  long n = state.range(0), allocated = 0;
  for (auto _ : state)
  {
    long before = allocations;
    if constexpr (std::is_same_v<decltype(body(io, n)), asio::awaitable<void>>)
      asio::co_spawn(io, body(io, n), asio::detached);
    else
      coflow::spawn(io, body(io, n), asio::detached);
    io.run();
    allocated += allocations - before;
    io.restart();
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["allocs_per_item"] =
      static_cast<double>(allocated) / static_cast<double>(state.iterations() * n);
}

asio::awaitable<void> post_loop(asio::io_context& io, long n)
{
  for (long i = 0; i < n; ++i)
    co_await asio::post(io, asio::use_awaitable);
}

// --- (a) a fired deferred awaited from asio::awaitable -----------------------------

void a_asio_post_use_awaitable(benchmark::State& state)
{
  run_loop(state, post_loop);
}

asio::awaitable<void> wait_fired_loop(asio::io_context& io, long n)
{
  for (long i = 0; i < n; ++i)
  {
    coflow::deferred<int> d(io.get_executor());
    d.callback(static_cast<int>(i));
    benchmark::DoNotOptimize(co_await d.async_wait(asio::use_awaitable));
  }
}

void a_coflow_fired_deferred_async_wait(benchmark::State& state)
{
  run_loop(state, wait_fired_loop);
}

// --- (b) a fired deferred awaited from a coflow body --------------------------------

void b_asio_post_use_awaitable(benchmark::State& state)
{
  run_loop(state, post_loop);
}

coflow::coroutine<void> await_fired_loop(asio::io_context& io, long n)
{
  for (long i = 0; i < n; ++i)
  {
    coflow::deferred<int> d(io.get_executor());
    d.callback(static_cast<int>(i));
    benchmark::DoNotOptimize(co_await d);
  }
}

void b_coflow_fired_deferred_in_body(benchmark::State& state)
{
  run_loop(state, await_fired_loop);
}

// --- (c) an Asio operation as a deferred: two trips -------------------------------

asio::awaitable<void> two_posts_loop(asio::io_context& io, long n)
{
  for (long i = 0; i < n; ++i)
  {
    co_await asio::post(io, asio::use_awaitable);
    co_await asio::post(io, asio::use_awaitable);
  }
}

void c_asio_two_posts(benchmark::State& state)
{
  run_loop(state, two_posts_loop);
}

asio::awaitable<void> use_deferred_loop(asio::io_context& io, long n)
{
  for (long i = 0; i < n; ++i)
    co_await asio::post(io, coflow::use_deferred).async_wait(asio::use_awaitable);
}

void c_coflow_use_deferred_post(benchmark::State& state)
{
  run_loop(state, use_deferred_loop);
}

// --- no peer: Twisted's synchronous chain -------------------------------------------

// A deferred fired through three callbacks; no executor involved.
void coflow_callback_chain(benchmark::State& state)
{
  asio::io_context io(1);
  for (auto _ : state)
  {
    coflow::deferred<int> d(io.get_executor());
    d.add_callback([](int x) { return x + 1; })
        .add_callback([](int x) { return x * 2; })
        .add_callback([](int x) { return x - 1; });
    d.callback(1);
  }
}

} // namespace

BENCHMARK(a_asio_post_use_awaitable)->Arg(10000);
BENCHMARK(a_coflow_fired_deferred_async_wait)->Arg(10000);
BENCHMARK(b_asio_post_use_awaitable)->Arg(10000);
BENCHMARK(b_coflow_fired_deferred_in_body)->Arg(10000);
BENCHMARK(c_asio_two_posts)->Arg(10000);
BENCHMARK(c_coflow_use_deferred_post)->Arg(10000);
BENCHMARK(coflow_callback_chain);

BENCHMARK_MAIN();
