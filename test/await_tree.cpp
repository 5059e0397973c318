//
// test/await_tree.cpp: introspection (DESIGN.md §8): await_tree names each
// coroutine's function and the line of the co_await where it waits, with its
// state; await_forest lists the running roots; to_string and to_dot print
// them.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE await_tree
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coflow.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
using coflow::await_kind;
using coflow::await_node;
using coflow::await_state;
using coflow::coroutine;

namespace {

/// The lines of the co_awaits below, recorded on the same line.
struct lines
{
  unsigned level1 = 0, level2 = 0, level3 = 0, guarded = 0, shielded = 0, tail_b = 0;
} at;

coroutine<int> level3(coflow::deferred<int> d)
{
  at.level3 = __LINE__; co_return co_await d;
}

coroutine<int> level2(coflow::deferred<int> d)
{
  at.level2 = __LINE__; co_return 1 + co_await level3(d);
}

coroutine<int> level1(coflow::deferred<int> d)
{
  at.level1 = __LINE__; co_return 1 + co_await level2(d);
}

coroutine<void> wait_on(coflow::deferred<void> d)
{
  co_await d;
}

/// Catches its cancel, then cleans up through a shield (the cleanup waits
/// on @p close).
coroutine<void> guarded(coflow::deferred<void> work, coflow::deferred<void> close)
{
  bool cancelled = false;
  try
  {
    at.guarded = __LINE__; co_await work;
  }
  catch (const coflow::cancelled_error&)
  {
    cancelled = true;
  }
  if (cancelled)
  {
    auto cleanup = coflow::shield(wait_on(close));
    at.shielded = __LINE__; co_await std::move(cleanup);
  }
}

/// level2(a) + level3(b), joined.
coroutine<int> sum_of_join(coflow::deferred<int> a, coflow::deferred<int> b)
{
  auto both = coflow::join(level2(a), level3(b));
  auto [x, y] = co_await std::move(both);
  co_return x + y;
}

coroutine<int> state_b(coflow::deferred<int> d)
{
  at.tail_b = __LINE__; co_return co_await d;
}

coroutine<int> state_a(coflow::deferred<int> d)
{
  co_return co_await coflow::tail_call(state_b(d));
}

coroutine<int> hands_over_to(coroutine<int> started)
{
  co_return co_await coflow::tail_call(std::move(started));
}

coroutine<int> chain(coflow::deferred<int> d, int n)
{
  if (n == 0)
    co_return co_await d;
  co_return co_await chain(d, n - 1);
}

/// The nodes of @p tree, depth first.
void each_node(const await_node& tree, const std::function<void(const await_node&)>& f)
{
  f(tree);
  for (const await_node& child : tree.children)
    each_node(child, f);
}

std::size_t depth_of(const await_node& tree)
{
  std::size_t depth = 1;
  for (const await_node* n = &tree; !n->children.empty(); n = &n->children.front())
    ++depth;
  return depth;
}

/// The result of @p c, which has finished (or finishes in a poll).
template <class T>
T get(const coroutine<T>& c, asio::io_context& io)
{
  auto f = c.async_wait(asio::use_future);
  io.restart();
  io.poll();
  return f.get();
}

bool mentions(const await_node& tree, const std::string& name)
{
  bool found = false;
  each_node(tree, [&](const await_node& n) { found = found || n.name == name; });
  return found;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(await_tree_, coflow_test::io_fixture)

BOOST_AUTO_TEST_CASE(a_three_level_cascade_names_each_function_and_the_line_of_each_await)
{
  coflow::deferred<int> d(io);
  auto c = coflow::spawn(io, level1(d));
  poll();
  const await_node tree = coflow::await_tree(c);

  const await_node* n = &tree;
  const char* names[] = {"level1", "level2", "level3"};
  const unsigned expected_lines[] = {at.level1, at.level2, at.level3};
  for (int i = 0; i < 3; ++i)
  {
    BOOST_TEST_CONTEXT("level " << i + 1)
    {
      BOOST_TEST((n->kind == await_kind::coroutine));
      BOOST_TEST(n->name == names[i]);
      BOOST_TEST((n->state == await_state::suspended));
      BOOST_TEST(n->location.line() == expected_lines[i]);
      BOOST_TEST(std::filesystem::path(n->location.file_name()).filename() == "await_tree.cpp");
      BOOST_TEST(std::string(n->location.function_name()).find(names[i]) != std::string::npos);
      BOOST_REQUIRE(n->children.size() == 1u);
      n = &n->children.front();
    }
  }
  BOOST_TEST((n->kind == await_kind::deferred));

  const std::string text = coflow::to_string(tree);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("level1 [suspended] at await_tree.cpp:" + std::to_string(at.level1))
      == 0u);
  BOOST_TEST(text.find("\u2514\u2500 level2 [suspended] at await_tree.cpp:"
                 + std::to_string(at.level2))
      != std::string::npos);
  BOOST_TEST(text.find("level3 [suspended] at await_tree.cpp:" + std::to_string(at.level3))
      != std::string::npos);

  d.callback(40);
  poll();
  BOOST_TEST(get(c, io) == 42);
  const await_node done = coflow::await_tree(c);
  BOOST_TEST((done.state == await_state::finished));
  BOOST_TEST(done.children.empty());
  BOOST_TEST(done.location.line() == 0u);
}

BOOST_AUTO_TEST_CASE(two_pauses_show_as_paused_x2_on_the_root_and_once_below)
{
  coflow::deferred<int> d(io);
  auto c = coflow::spawn(io, level1(d));
  poll();
  c.pause();
  c.pause();
  const await_node tree = coflow::await_tree(c);
  BOOST_TEST((tree.state == await_state::paused));
  BOOST_TEST(tree.pause_count == 2u);
  BOOST_TEST(tree.children.front().pause_count == 1u); // one pause per level
  const std::string text = coflow::to_string(tree);
  BOOST_TEST(text.find("level1 [paused \u00d72]") == 0u);
  BOOST_TEST(text.find("level2 [paused] at") != std::string::npos);

  c.unpause();
  c.unpause();
  BOOST_TEST((coflow::await_tree(c).state == await_state::suspended));
  c.cancel();
  poll();
}

BOOST_AUTO_TEST_CASE(a_cleanup_through_a_shield_shows_cancelling)
{
  coflow::deferred<void> work(io);
  coflow::deferred<void> close(io);
  auto c = coflow::spawn(io, guarded(work, close));
  poll();
  BOOST_TEST(coflow::await_tree(c).location.line() == at.guarded);

  c.cancel();
  poll(); // unwinds to the shielded cleanup, which waits on `close`
  const await_node tree = coflow::await_tree(c);
  BOOST_TEST_MESSAGE(coflow::to_string(tree));
  BOOST_TEST((tree.state == await_state::cancelling));
  BOOST_TEST(tree.location.line() == at.shielded);
  BOOST_REQUIRE(tree.children.size() == 1u);
  const await_node& shield = tree.children.front();
  BOOST_TEST((shield.kind == await_kind::shield));
  BOOST_REQUIRE(shield.children.size() == 1u);
  BOOST_TEST(shield.children.front().name == "wait_on");
  BOOST_TEST((shield.children.front().state == await_state::suspended)); // not cancelled
  BOOST_TEST(coflow::to_string(tree).find("guarded [cancelling]") == 0u);

  close.callback();
  poll();
  BOOST_TEST((coflow::await_tree(c).state == await_state::finished));
  BOOST_CHECK_THROW(get(c, io), coflow::cancelled_error);
}

BOOST_AUTO_TEST_CASE(a_join_shows_its_branches)
{
  coflow::deferred<int> a(io);
  coflow::deferred<int> b(io);
  auto c = coflow::spawn(io, sum_of_join(a, b));
  poll();
  const await_node tree = coflow::await_tree(c);
  BOOST_TEST_MESSAGE(coflow::to_string(tree));
  BOOST_REQUIRE(tree.children.size() == 1u);
  const await_node& join = tree.children.front(); // join's own coroutine stands for it
  BOOST_TEST((join.kind == await_kind::join));
  BOOST_REQUIRE(join.children.size() == 2u);
  BOOST_TEST(join.children[0].name == "level2");
  BOOST_TEST(join.children[0].children.front().name == "level3");
  BOOST_TEST(join.children[1].name == "level3");
  BOOST_TEST(coflow::to_string(tree).find("join of 2") != std::string::npos);

  a.callback(1);
  poll();
  const await_node half = coflow::await_tree(c);
  const await_node& branches = half.children.front();
  BOOST_TEST((branches.children[0].state == await_state::finished));
  BOOST_TEST(branches.children[0].children.empty());
  BOOST_TEST((branches.children[1].state == await_state::suspended));
  b.callback(2);
  poll();
  BOOST_TEST(get(c, io) == 4);
}

BOOST_AUTO_TEST_CASE(a_task_group_shows_its_body_and_children)
{
  coflow::deferred<void> d(io);
  auto root = [&]() -> coroutine<void> {
    co_await coflow::with_task_group([&](coflow::task_group& g) -> coroutine<void> {
      g.spawn(wait_on(d));
      g.spawn(wait_on(d));
      co_await wait_on(d);
    });
  };
  auto c = coflow::spawn(io, root());
  poll();
  const await_node tree = coflow::await_tree(c);
  BOOST_TEST_MESSAGE(coflow::to_string(tree));
  BOOST_REQUIRE(tree.children.size() == 1u);
  const await_node& group = tree.children.front();
  BOOST_TEST((group.kind == await_kind::task_group));
  BOOST_TEST(group.children.size() == 3u);
  std::size_t waiting = 0;
  each_node(group, [&](const await_node& n) { waiting += n.name == "wait_on"; });
  BOOST_TEST(waiting == 3u);
  BOOST_TEST(coflow::await_forest(io).size() == 1u); // the children are not roots
  d.callback();
  poll();
  BOOST_TEST(coflow::await_forest(io).empty());
}

BOOST_AUTO_TEST_CASE(a_tail_call_shows_the_state_that_runs_never_the_replaced_one)
{
  coflow::deferred<int> d(io);
  auto c = coflow::spawn(io, state_a(d));
  poll();
  const await_node tree = coflow::await_tree(c);
  BOOST_TEST_MESSAGE(coflow::to_string(tree));
  BOOST_TEST(tree.name == "state_b");
  BOOST_TEST(tree.location.line() == at.tail_b);
  BOOST_TEST(!mentions(tree, "state_a"));
  BOOST_TEST(coflow::to_string(tree).find("state_a") == std::string::npos);
  d.callback(7);
  poll();
  BOOST_TEST(get(c, io) == 7);
}

BOOST_AUTO_TEST_CASE(a_tail_call_to_a_started_coroutine_shows_that_coroutine)
{
  coflow::deferred<int> d(io);
  auto next = coflow::spawn(io, state_b(d));
  auto c = coflow::spawn(io, hands_over_to(next));
  poll();
  const await_node tree = coflow::await_tree(c);
  BOOST_TEST_MESSAGE(coflow::to_string(tree));
  BOOST_TEST(tree.name == "state_b");
  BOOST_TEST(!mentions(tree, "hands_over_to"));
  BOOST_TEST(coflow::await_forest(io).size() == 1u); // state_b appears once
  d.callback(8);
  poll();
  BOOST_TEST(get(c, io) == 8);
}

BOOST_AUTO_TEST_CASE(await_forest_lists_exactly_the_running_roots)
{
  coflow::deferred<void> d1(io), d2(io), d3(io);
  BOOST_TEST(coflow::await_forest(io).empty());
  coflow::spawn(io, wait_on(d1), asio::detached);
  auto c2 = coflow::spawn(io, wait_on(d2));
  coflow::spawn(io, wait_on(d3), asio::detached);
  const auto before = coflow::await_forest(io);
  BOOST_TEST(before.size() == 3u);
  for (const await_node& root : before)
    BOOST_TEST((root.state == await_state::starting));
  poll();
  BOOST_TEST(coflow::await_forest(io).size() == 3u);
  d2.callback(); // finish 1
  poll();
  const auto forest = coflow::await_forest(io);
  BOOST_TEST(forest.size() == 2u);
  for (const await_node& root : forest)
  {
    BOOST_TEST(root.name == "wait_on");
    BOOST_TEST((root.state == await_state::suspended));
  }
  BOOST_TEST(c2.called()); // its handle lives on; it is no root any more
  d1.callback();
  d3.callback();
  poll();
  BOOST_TEST(coflow::await_forest(io).empty());
}

BOOST_AUTO_TEST_CASE(a_context_built_where_a_destroyed_one_was_lists_its_own_roots)
{
  // A thread caches the last context's registry (waiter_registry::of): a
  // context built at the address of a destroyed one must not find the dead
  // registry there (ASan: a use after free; any build: the root is missing).
  auto one_root_listed_then_gone = [](asio::io_context& context) {
    coflow::deferred<void> d(context);
    coflow::spawn(context, wait_on(d), asio::detached);
    BOOST_TEST(coflow::await_forest(context).size() == 1u);
    d.callback();
    context.run();
    BOOST_TEST(coflow::await_forest(context).empty());
  };
  std::optional<asio::io_context> context;
  context.emplace();
  one_root_listed_then_gone(*context);
  const void* first_address = &*context;
  context.reset();
  context.emplace();
  BOOST_TEST(&*context == first_address);
  one_root_listed_then_gone(*context);
}

BOOST_AUTO_TEST_CASE(spawns_and_ends_on_two_threads_share_the_registry)
{
  // Every spawn lists its root under the registry's lock and every end
  // removes it: two threads of a pool without a strand do both at once
  // (TSan checks the lock orders them).
  asio::thread_pool pool(2);
  std::atomic<int> ran{0};
  auto trivial = [&]() -> coroutine<void>
  {
    ran.fetch_add(1, std::memory_order_relaxed);
    co_return;
  };
  for (int thread = 0; thread < 2; ++thread)
    asio::post(pool, [&] {
      for (int i = 0; i < 5000; ++i)
        coflow::spawn(pool, trivial(), asio::detached);
    });
  pool.join();
  BOOST_TEST(ran.load() == 10000);
  BOOST_TEST(coflow::await_forest(pool).empty());
}

BOOST_AUTO_TEST_CASE(a_spawned_coroutine_that_another_awaits_is_in_that_ones_tree_only)
{
  coflow::deferred<int> d(io);
  auto inner = coflow::spawn(io, level3(d));
  auto outer = [&]() -> coroutine<int> { co_return co_await inner; };
  auto c = coflow::spawn(io, outer());
  poll();
  const auto forest = coflow::await_forest(io);
  BOOST_TEST_MESSAGE(coflow::to_string(forest));
  BOOST_REQUIRE(forest.size() == 1u);
  BOOST_TEST(mentions(forest.front(), "level3"));
  d.callback(1);
  poll();
  BOOST_TEST(get(c, io) == 1);
}

BOOST_AUTO_TEST_CASE(operations_awaitables_and_other_executors_are_named)
{
  asio::io_context other;
  coflow::deferred<int> d(other);
  auto elsewhere = coflow::spawn(other, level3(d));
  asio::steady_timer timer(io, std::chrono::hours(1));
  auto root = [&]() -> coroutine<int> {
    auto waits = coflow::join(timer.async_wait(coflow::use_coroutine),
        []() -> asio::awaitable<int> { co_return co_await asio::post(asio::use_awaitable), 1; }(),
        elsewhere);
    auto all = co_await std::move(waits);
    co_return std::get<2>(all);
  };
  auto c = coflow::spawn(io, root());
  io.run_one(); // the root starts its branches; the awaitable is posted
  const await_node tree = coflow::await_tree(c);
  const std::string text = coflow::to_string(tree);
  BOOST_TEST_MESSAGE(text);
  BOOST_TEST(text.find("operation void (boost::system::error_code)") != std::string::npos);
  BOOST_TEST(text.find("asio::awaitable") != std::string::npos);
  BOOST_TEST(text.find("coroutine on another executor") != std::string::npos);
  bool saw_elsewhere = false;
  each_node(tree, [&](const await_node& n) { saw_elsewhere |= n.kind == await_kind::elsewhere; });
  BOOST_TEST(saw_elsewhere);
  c.cancel();
  d.callback(0);
  other.run();
  io.run();
}

BOOST_AUTO_TEST_CASE(a_timeout_shows_the_work_then_the_timer)
{
  coflow::deferred<void> d(io);
  auto root = [&]() -> coroutine<void> {
    auto bounded = coflow::timeout(std::chrono::hours(1), wait_on(d));
    co_await std::move(bounded);
  };
  auto c = coflow::spawn(io, root());
  poll();
  const await_node tree = coflow::await_tree(c);
  BOOST_TEST_MESSAGE(coflow::to_string(tree));
  BOOST_REQUIRE(tree.children.size() == 1u);
  const await_node& bound = tree.children.front(); // timeout's own coroutine stands for it
  BOOST_TEST((bound.kind == await_kind::timeout));
  BOOST_REQUIRE(bound.children.size() == 2u);
  BOOST_TEST(bound.children[0].name == "wait_on");
  BOOST_TEST(bound.children[1].name.find("sleep") != std::string::npos);
  BOOST_TEST(coflow::to_string(tree).find("\u2514\u2500 timeout\n") != std::string::npos);
  // The forest of an executor is its context's.
  BOOST_TEST(coflow::await_forest(io.get_executor()).size() == 1u);
  d.callback();
  poll();
  BOOST_TEST(coflow::await_forest(io.get_executor()).empty());
}

BOOST_AUTO_TEST_CASE(a_coroutine_reading_its_own_tree_is_running)
{
  coroutine<void> self;
  await_node seen;
  auto reader = [&]() -> coroutine<void> {
    seen = coflow::await_tree(self);
    co_return;
  };
  self = coflow::spawn(io, reader());
  poll();
  BOOST_TEST((seen.state == await_state::running));
  BOOST_TEST(seen.children.empty());
  BOOST_CHECK_THROW(coflow::await_tree(coroutine<void>()), std::logic_error);
  auto unstarted = wait_on(coflow::deferred<void>(io));
  BOOST_CHECK_THROW(coflow::await_tree(unstarted), std::logic_error);
}

BOOST_AUTO_TEST_CASE(a_deep_recursion_is_cut_at_max_depth)
{
  coflow::deferred<int> d(io);
  auto c = coflow::spawn(io, chain(d, 100000));
  poll();
  const await_node tree = coflow::await_tree(c); // the default: 1 000 levels
  BOOST_TEST(depth_of(tree) <= 1002u);
  bool truncated = false;
  each_node(tree, [&](const await_node& n) { truncated |= n.kind == await_kind::truncated; });
  BOOST_TEST(truncated);
  const await_node small = coflow::await_tree(c, 10);
  BOOST_TEST(depth_of(small) <= 12u);
  BOOST_TEST(coflow::to_string(small).find("deeper levels not shown") != std::string::npos);
  d.callback(5);
  poll();
  BOOST_TEST(get(c, io) == 5);
}

BOOST_AUTO_TEST_CASE(to_dot_is_a_digraph_that_dot_accepts)
{
  coflow::deferred<int> a(io);
  coflow::deferred<int> b(io);
  auto c = coflow::spawn(io, sum_of_join(a, b));
  poll();
  c.pause();
  const std::string dot = coflow::to_dot(coflow::await_tree(c));
  BOOST_TEST_MESSAGE(dot);
  BOOST_TEST(dot.find("digraph") == 0u);
  BOOST_TEST(dot.find("fillcolor=\"orange\"") != std::string::npos); // paused
  BOOST_TEST(dot.find("n0 -> n1;") != std::string::npos);
  std::size_t edges = 0;
  for (std::size_t at = 0; (at = dot.find(" -> ", at)) != std::string::npos; ++at)
    ++edges;
  BOOST_TEST(edges == 6u); // root, join, level2, level3, level3 and two deferreds: 7 nodes

  if (std::system("command -v dot >/dev/null 2>&1") == 0)
  {
    const auto dir = std::filesystem::temp_directory_path();
    const auto in = dir / "coflow_test_await_tree.dot";
    const auto out = dir / "coflow_test_await_tree.png";
    std::ofstream(in) << dot;
    const std::string command = "dot -Tpng -o '" + out.string() + "' '" + in.string() + "'";
    BOOST_TEST(std::system(command.c_str()) == 0);
    BOOST_TEST(std::filesystem::file_size(out) > 0u);
    std::filesystem::remove(in);
    std::filesystem::remove(out);
  }
  else
    BOOST_WARN_MESSAGE(false, "dot (graphviz) is not installed: the DOT text was not rendered");
  c.unpause();
  a.callback(1);
  b.callback(2);
  poll();
  BOOST_TEST(get(c, io) == 4); // (1 + 1) + 2
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(another_thread_takes_the_tree_by_posting_to_the_strand)
{
  asio::thread_pool pool(2);
  auto strand = asio::make_strand(pool);
  coflow::deferred<int> d(strand);
  auto c = coflow::spawn(strand, level1(d));
  // The tree is taken on the strand: another thread posts there and waits.
  auto take = [&] {
    return asio::post(strand, asio::use_future([&] { return coflow::await_tree(c); })).get();
  };
  // Posted after the start: the three levels, started inline, wait by then.
  const await_node tree = take();
  BOOST_TEST(depth_of(tree) == 4u);
  BOOST_TEST(tree.name == "level1");
  auto forest = asio::post(strand, asio::use_future([&] { return coflow::await_forest(pool); }))
                    .get();
  BOOST_TEST(forest.size() == 1u);

  // Another strand of the pool: taken on the first strand, the forest of
  // that strand reads its own roots only (the other one may be running).
  auto other_strand = asio::make_strand(pool);
  coflow::deferred<void> other_done(other_strand);
  auto other = coflow::spawn(other_strand, wait_on(other_done));
  asio::post(other_strand, asio::use_future([] {})).get(); // it waits by now
  forest = asio::post(strand, asio::use_future([&] { return coflow::await_forest(strand); }))
               .get();
  BOOST_REQUIRE(forest.size() == 2u);
  BOOST_TEST(forest[0].name == "level1");
  BOOST_TEST((forest[1].kind == await_kind::elsewhere));
  forest = asio::post(other_strand,
      asio::use_future([&] { return coflow::await_forest(other_strand); })).get();
  BOOST_REQUIRE(forest.size() == 2u);
  BOOST_TEST((forest[0].kind == await_kind::elsewhere));
  BOOST_TEST(forest[1].name == "wait_on");
  asio::post(other_strand, [other_done] { other_done.callback(); });

  // The coroutine's deferred side is used on its strand too.
  std::future<int> result =
      asio::post(strand, asio::use_future([&] { return c.async_wait(asio::use_future); })).get();
  asio::post(strand, [d] { d.callback(1); });
  BOOST_TEST(result.get() == 3);
  pool.join();
}
