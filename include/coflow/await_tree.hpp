//
// coflow/await_tree.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Introspection (DESIGN.md §8): what a coroutine, or every coroutine of an
// execution context, is waiting on, as a tree of plain values, printed as
// text or as Graphviz DOT.
//
// Example (asio is boost::asio):
//
// @code
// coflow::coroutine<void> worker(asio::steady_timer& timer)
// {
//   co_await timer.async_wait(coflow::use_coroutine);
// }
//
// asio::io_context io;
// asio::steady_timer timer(io, std::chrono::hours(1));
// coflow::coroutine<void> c = coflow::spawn(io, worker(timer));
// io.poll();                                  // worker suspends on the timer
// c.pause();
// std::string text = coflow::to_string(coflow::await_tree(c));
// // worker [paused] at <this file>:<the co_await's line>
// // └─ operation void (boost::system::error_code)
// std::size_t roots = coflow::await_forest(io).size();  // 1
// c.cancel();
// io.run();
// @endcode
//

/// @file
/// Introspection (DESIGN.md §8): what a coroutine, or every coroutine of an
/// execution context, is waiting on, as a tree of plain values, printed as
/// text or as Graphviz DOT. Not available with `COFLOW_NO_INTROSPECTION`.
///
/// The source of this header opens with an example.

#ifndef COFLOW_AWAIT_TREE_HPP
#define COFLOW_AWAIT_TREE_HPP

#ifdef COFLOW_NO_INTROSPECTION
#error "coflow/await_tree.hpp: introspection is compiled out (COFLOW_NO_INTROSPECTION)"
#endif

#include <coflow/coroutine.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>
#include <boost/assert/source_location.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace coflow {

/// What a node of an await tree is.
enum class await_kind : unsigned char
{
  coroutine, ///< a coroutine (its function's name, where it is suspended)
  deferred,  ///< a deferred (its child: the coroutine that produces it, if any)
  operation, ///< an Asio operation (its name: the completion signature)
  awaitable, ///< an asio::awaitable (its name: the completion signature)
  join,      ///< coflow::join: its children are the branches
  gather,    ///< coflow::gather
  race,      ///< coflow::race
  timeout,   ///< coflow::timeout or deadline: the work, then the timer
  shield,    ///< coflow::shield: its one child is the shielded work
  task_group, ///< a task group: the body, then every child, oldest first
  elsewhere, ///< a coroutine or deferred of another executor: not read
  truncated, ///< deeper levels than await_tree()'s max_depth: not read
};

/// Where a coroutine is in its life, as a tree shows it. A cancel and a
/// pause count more than running or suspended: a paused coroutine that is
/// also cancelled is `cancelling`.
enum class await_state : unsigned char
{
  starting,   ///< started (spawned, or a branch), its body not entered yet
  running,    ///< its body runs: the tree was taken from inside it
  suspended,  ///< suspended at a co_await (location), on what its child shows
  paused,     ///< paused (pause_count times), suspended or holding its result
  cancelling, ///< cancelled, its body still runs (unwinds, or a cleanup)
  finished,   ///< its body has ended (its result is delivered or held)
};

/// One node of an await tree: a plain value, taken at one moment.
struct await_node
{
  /// What the node is: a coroutine, a deferred, an operation, a combinator...
  await_kind kind = await_kind::coroutine;
  /// A coroutine: its function's name, without return type and parameters
  /// (`level2`, `ns::worker`; a lambda as the compiler names it: g++
  /// `f()::<lambda()>`, clang `operator()`). An operation or an awaitable:
  /// its completion signature. Otherwise empty.
  std::string name;
  /// A suspended coroutine: the co_await where it waits (file, line,
  /// column, and the function's name as the compiler spells it; g++ gives
  /// the line where the co_await expression ends, clang where it starts).
  /// A coroutine that does not wait: its file and function, line 0.
  /// Otherwise empty.
  boost::source_location location;
  /// A coroutine's state. A combinator, or what one of coflow's own
  /// coroutines awaits (a timeout's race, a branch's operation), has the
  /// state of the coroutine that carries it; other nodes are `suspended`.
  await_state state = await_state::suspended;
  /// The pause count, along with the state. A pause of a coroutine is
  /// forwarded once to what it awaits: below a coroutine paused twice, each
  /// level shows one pause.
  unsigned pause_count = 0;
  /// What it waits on: a coroutine's one awaited thing, a combinator's or a
  /// group's branches, a deferred's producing coroutine.
  std::vector<await_node> children;
};

namespace detail {

class coroutine_state_base;

await_node await_tree_of(const coroutine_state_base& state, std::size_t max_depth);

} // namespace detail

/// The await tree of @p c: the coroutine, what it waits on, and so on down.
/**
 * A copy taken at one moment: holding it keeps no coroutine alive.
 * Take it on the coroutine's executor (for an io_context run by one thread:
 * from any handler or coroutine of it; for a multi-threaded one: from the
 * strand the coroutines run on). From another thread, post there and wait:
 * `asio::post(ex, asio::use_future([&] { return coflow::await_tree(c); })).get()`.
 * Coroutines of another executor appear as `elsewhere` nodes, not read.
 * Levels deeper than @p max_depth appear as one `truncated` node, so that a
 * tree of a deep recursion stays small (and printing it recurses at most
 * that deep).
 * A tail call shows the state that runs now, never the replaced ones.
 * Reads, never changes, the coroutines: nothing is paused, resumed or
 * cancelled.
 * @param c A started coroutine.
 * @param max_depth Levels deeper than this appear as one `truncated` node.
 * @returns the root node: @p c itself.
 * @throws std::logic_error if @p c is empty or not started.
 */
template <class T, class Executor>
await_node await_tree(const coroutine<T, Executor>& c, std::size_t max_depth = 1000)
{
  const auto& state = detail::coroutine_access::state_of(c);
  if (!state.started())
    throw std::logic_error("coflow: await_tree of a coroutine that has not started");
  return detail::await_tree_of(state, max_depth);
}

namespace detail {

std::vector<await_node> await_forest_of(boost::asio::execution_context& context,
    const boost::asio::any_io_executor* only, std::size_t max_depth);

} // namespace detail

/// The await trees of every coroutine spawned on @p context that has not
/// finished, oldest first.
/**
 * A spawned coroutine that another one awaits appears in that one's tree,
 * not as a root of its own; combinator branches and group children appear
 * under their node. Every root is read: take it where none of them runs
 * meanwhile (an io_context run by one thread: from that thread; a
 * thread_pool: after stop() and join()). On a pool whose coroutines run on
 * strands, take await_forest(strand) on each strand.
 * @param context The execution context whose spawned coroutines are read.
 * @param max_depth As for await_tree(), for each tree.
 * @returns one tree per root; empty if there is none.
 */
std::vector<await_node> await_forest(boost::asio::execution_context& context,
    std::size_t max_depth = 1000);

/// The forest of @p ex's execution context, as taken on @p ex.
/**
 * The roots that run on @p ex (equal executors) are read; every other root
 * appears as an `elsewhere` node, not read (another thread may be running
 * it). Call it on @p ex: from a coroutine,
 * `await_forest(co_await coflow::this_coro::executor)`; from a strand's
 * handler, `await_forest(strand)`.
 * @param ex An executor (not an execution context: see the overload above).
 * @param max_depth As for await_tree(), for each tree.
 * @returns one tree per root, oldest first.
 */
template <class Executor>
  requires(!std::is_convertible_v<Executor&, boost::asio::execution_context&>)
std::vector<await_node> await_forest(const Executor& ex, std::size_t max_depth = 1000)
{
  const boost::asio::any_io_executor only(ex);
  return detail::await_forest_of(
      boost::asio::query(ex, boost::asio::execution::context), &only, max_depth);
}

/// @p node and its children as text, one line per node, indented as
/// `pstree` does.
/**
 * `name [state] at file:line` for a coroutine (`[paused]` for one pause,
 * `[paused ×2]` for two), `join of 2`, `operation void (...)`. Files are
 * shown by their base name. A plain function of the value: call it
 * anywhere.
 * @param node A tree, from await_tree() or await_forest().
 * @returns the text, each line ending with a newline.
 */
std::string to_string(const await_node& node);

/// Every tree of @p forest as text, one after the other.
/// @param forest Trees, from await_forest().
/// @returns the text of each tree, as to_string(const await_node&) gives it.
std::string to_string(const std::vector<await_node>& forest);

/// @p node as a Graphviz digraph.
/**
 * A node per coroutine (a box), operation or combinator (an ellipse), an
 * edge from each to what it waits on, filled by state (starting: light
 * blue, running: green, suspended: white, paused: orange, cancelling: red,
 * finished: grey). Render it with `dot -Tpng`.
 * @param node A tree, from await_tree() or await_forest().
 * @returns the DOT source of one digraph.
 */
std::string to_dot(const await_node& node);

/// Every tree of @p forest in one digraph.
/// @param forest Trees, from await_forest().
/// @returns the DOT source of one digraph.
std::string to_dot(const std::vector<await_node>& forest);

/// The name of @p state, as to_string() prints it ("paused", ...).
/// @param state A state.
/// @returns a static string.
const char* to_string(await_state state) noexcept;

/// The name of @p kind ("coroutine", "join", ...).
/// @param kind A kind.
/// @returns a static string.
const char* to_string(await_kind kind) noexcept;

} // namespace coflow

#endif // COFLOW_AWAIT_TREE_HPP
