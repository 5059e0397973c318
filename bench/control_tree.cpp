//
// bench/control_tree.cpp: pause + unpause of a suspended await tree (coflow
// only: neither asio::awaitable nor its operators have a pause).
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
//  (e) a binary tree of depth 10: 1 024 leaves, each suspended on an
//      asio::steady_timer an hour away; each of the 1 023 inner nodes does
//      `co_await coflow::join(left(), right())`. 2 047 nodes (each inner
//      node also has its join's coroutine, not counted).
//  (f) a fan-out: one coflow::join of a std::vector of 1 000 such leaves.
//      1 000 nodes (the join not counted), as bench/combinators.cpp (d).
//
//  The tree is built once, outside the timing loop, and the io_context
//  polled until every leaf is suspended; the loop times `root.pause();
//  root.unpause();` (and io.poll(), only if a first pause + unpause left
//  handlers to run: then they are part of the cost). The root is cancelled
//  and the io_context drained at the end.
//
//  The time of an iteration is one pause + unpause of the root; items are
//  nodes, so 1e9 / items_per_second is the CPU time per node in ns.
//

#include <coflow/coroutine.hpp>
#include <coflow/join.hpp>
#include <coflow/spawn.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <vector>

namespace asio = boost::asio;

namespace {

constexpr int tree_depth = 10;
constexpr long tree_leaves = 1L << tree_depth;
constexpr long tree_nodes = 2 * tree_leaves - 1;
constexpr long fan_out = 1000;

long leaves_suspended = 0;

/// A leaf: suspended on a timer an hour away until cancelled.
coflow::coroutine<void> leaf()
{
  asio::steady_timer t(co_await coflow::this_coro::executor, std::chrono::hours(1));
  ++leaves_suspended;
  co_await t.async_wait(coflow::use_coroutine);
}

coflow::coroutine<void> node(int depth);

/// An inner node: a join of two subtrees.
coflow::coroutine<void> inner(int depth)
{
  co_await coflow::join(node(depth - 1), node(depth - 1));
}

/// A node of the binary tree: a leaf at depth 0 (itself, not a coroutine
/// awaiting one), else an inner node.
coflow::coroutine<void> node(int depth)
{
  return depth == 0 ? leaf() : inner(depth);
}

/// Times pause + unpause of @p root (spawned, not yet started), which
/// suspends @p leaves leaves; items are @p nodes per iteration.
void pause_unpause(benchmark::State& state, coflow::coroutine<void> root_body, long leaves, long nodes)
{
  asio::io_context io(1);
  leaves_suspended = 0;
  auto root = coflow::spawn(io, std::move(root_body));
  while (io.poll() != 0)
  {
  }
  if (leaves_suspended != leaves)
  {
    state.SkipWithError("not every leaf is suspended");
    return;
  }

  // Does a pause + unpause leave work for the io_context? Then the loop
  // runs it, as part of the cost.
  root.pause();
  root.unpause();
  const bool drain = io.poll() != 0;

  for (auto _ : state)
  {
    root.pause();
    root.unpause();
    if (drain)
      io.poll();
  }
  state.SetItemsProcessed(state.iterations() * nodes);
  state.counters["nodes"] = static_cast<double>(nodes);

  root.cancel();
  io.restart();
  io.run();
}

// --- (e) a binary tree of depth 10 ---------------------------------------------------

void e_coflow_pause_unpause_tree(benchmark::State& state)
{
  pause_unpause(state, node(tree_depth), tree_leaves, tree_nodes);
}

// --- (f) a fan-out of 1 000 -------------------------------------------------------------

void f_coflow_pause_unpause_fan_out(benchmark::State& state)
{
  std::vector<coflow::coroutine<void>> children;
  children.reserve(fan_out);
  for (long i = 0; i < fan_out; ++i)
    children.push_back(leaf());
  pause_unpause(state, coflow::join(std::move(children)), fan_out, fan_out);
}

} // namespace

#define COFLOW_BENCH(name) BENCHMARK(name)->Repetitions(5)->ReportAggregatesOnly(true)

COFLOW_BENCH(e_coflow_pause_unpause_tree);
COFLOW_BENCH(f_coflow_pause_unpause_fan_out);

BENCHMARK_MAIN();
