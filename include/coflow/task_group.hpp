//
// coflow/task_group.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// task_group and with_task_group: children that live as long as a scope.
//
// Example (asio is boost::asio; std::chrono_literals are in scope):
//
// @code
// coflow::coroutine<void> serve(int id, std::vector<int>& served)
// {
//   co_await coflow::sleep(1ms);     // a session
//   served.push_back(id);
// }
//
// coflow::coroutine<void> accept_three(std::vector<int>& served)
// {
//   co_await coflow::with_task_group([&](coflow::task_group& g) -> coflow::coroutine<void> {
//     for (int id = 0; id < 3; ++id)
//       g.spawn(serve(id, served));  // runs alongside; the group waits for it
//     co_return;
//   });                              // every session has finished here
// }
//
// asio::io_context io;
// std::vector<int> served;
// auto c = coflow::spawn(io, accept_three(served));
// io.run();              // served holds 0, 1 and 2; c.pause() or c.cancel()
//                        // would have reached every session
// @endcode
//

/// @file
/// task_group and with_task_group(): children that live as long as a
/// scope.
///
/// The source of this header opens with an example.

#ifndef COFLOW_TASK_GROUP_HPP
#define COFLOW_TASK_GROUP_HPP

#include <coflow/coroutine.hpp>
#include <coflow/detail/task_group.hpp>
#include <coflow/this_coro.hpp>

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

namespace coflow {

template <class Function>
coroutine<void> with_task_group(Function f);

/// The handle that task_group::spawn() returns: a coroutine<T, Executor>
/// that, unlike a coroutine just made, may be discarded (the group waits
/// for the child; nothing is lost).
/**
 * Everything else is coroutine's: await it, pause it, cancel it (a child
 * cancelled through its own handle ends with cancelled_error, which is not
 * a failure of the group). Awaiting it on a thread_pool without a strand
 * is as awaiting any started coroutine: do it from one strand.
 * @tparam T The child's result type.
 * @tparam Executor The child's executor type.
 */
template <class T, class Executor = boost::asio::any_io_executor>
class group_child : public coroutine<T, Executor>
{
public:
  /// Wraps the handle @p c (task_group::spawn() makes these).
  /// @param c The child's handle.
  explicit group_child(coroutine<T, Executor> c) noexcept : coroutine<T, Executor>(std::move(c)) {}
};

/// A dynamic set of child coroutines that one awaited node waits for
/// (DESIGN.md §7). Made by with_task_group(), which passes it to its body.
/**
 * A copy refers to the same group. spawn() may be called from any code that
 * runs on the group's executor while the group is open (until the body and
 * every child have finished). Pause, unpause and cancel of the coroutine
 * that awaits with_task_group() reach the body and every child.
 *
 * On a `thread_pool` without a strand, children run on any of its threads;
 * spawn(), the children's ends, and the pause, unpause and cancel that reach
 * the group are ordered by a mutex of the group.
 */
class task_group
{
public:
  /// Starts @p c on the group's executor (posted, as coflow::spawn) as a
  /// child of the group. @returns the started handle.
  /**
   * The child is paused or cancelled at once if the group is (a cancelled
   * group's child never runs its body). Its result is discarded; its
   * failure (other than cancelled_error) is the group's: it cancels the
   * body and every other child, and the group's await throws it once all
   * have finished. The group frees its part of the child when the child
   * finishes.
   * @param c An unstarted coroutine; it runs on the group's executor.
   * @returns the started handle, which may be discarded.
   * @throws std::logic_error if @p c is empty or started, or the group has
   * completed.
   */
  template <class T, class Executor>
  group_child<T, Executor> spawn(coroutine<T, Executor> c) const
  {
    return group_child<T, Executor>(state_->add(std::move(c), false));
  }

  /// The children spawned and not yet finished (the body not counted).
  /// @returns the count, read under the group's mutex.
  std::size_t size() const { return state_->size(); }

  /// The group's executor: the one its with_task_group() runs on.
  /// @returns a reference, valid while this task_group (or a copy) exists.
  const boost::asio::any_io_executor& get_executor() const noexcept { return state_->executor(); }

private:
  template <class Function>
  friend coroutine<void> with_task_group(Function f);

  explicit task_group(std::shared_ptr<detail::group_state> state) noexcept
    : state_(std::move(state))
  {
  }

  std::shared_ptr<detail::group_state> state_;
};

namespace detail {

/// The awaiter of a group: the body's coroutine's cascade reaches every
/// member.
template <class CoroState>
class group_awaiter final : public cascade_awaiter<group_awaiter<CoroState>, CoroState>
{
public:
  group_awaiter(CoroState* t, group_state& group, coroutine<void> body)
    : group_awaiter::cascade_awaiter(t), group_(group), body_(std::move(body))
  {
  }

  bool ready() const noexcept { return false; }

  void hand_over(resume_token&& token)
  {
    group_.wait(std::move(token), this->coro_);
    (void)group_.add(std::move(body_), true);
  }

  void take()
  {
    if (std::exception_ptr e = group_.failure())
      std::rethrow_exception(e);
  }

  /// A failure that a cancel from above hides is reported.
  void leaving() noexcept
  {
    std::exception_ptr e = group_.failure();
    if (e && this->coro_->cancel_requested() && !is_cancel(e))
      report_unhandled_error(e);
  }

  void for_each_awaited(awaited_visitor& visit) const noexcept override
  {
    try
    {
      group_.for_each_member([&](const coroutine_state_base* s) { visit(s); });
    }
    catch (...)
    {
      // A lock that fails: nothing is searched.
    }
  }

  awaited_description describe() const noexcept override
  {
    return {awaited_kind::fan_in, nullptr, false, "task_group"};
  }

  void pause() override { group_.pause(); }
  void unpause() override { group_.unpause(); }
  void cancel() override { group_.cancel(); }

private:
  group_state& group_;
  coroutine<void> body_;
};

struct group_node
{
  group_state& group;
  coroutine<void> body;

  template <class CoroState>
  group_awaiter<CoroState> awaiter_for(CoroState* t) &&
  {
    return {t, group, std::move(body)};
  }
};

} // namespace detail

/// A coroutine that runs `f(group)` as the body of a new task_group, and
/// finishes once the body and every child have finished (DESIGN.md §7).
/**
 * @p f is called with a `task_group&` and returns a `coroutine<void>`; it
 * is kept alive until the body has finished. Pause, unpause and cancel of
 * the coroutine reach the body and every child, also children spawned
 * later (they start paused, or never run if cancelled). The first failure
 * (the body's, or a child's other than cancelled_error) cancels the others
 * and is thrown once all have finished; later failures go to the
 * unhandled-error handler. A child that ends with cancelled_error because it
 * was cancelled itself (through its handle, or by the group) has not failed.
 *
 * Lazy: the group is made when the coroutine starts, on its executor (an
 * awaiter's, for a child), and the body and the children run there. The
 * children's values are discarded; await a child's handle, or use join(),
 * for values. @p f must be callable as `coroutine<void>(task_group&)`, or
 * the call does not compile (one `static_assert`).
 * @param f The body's function, taken by value.
 * @returns a lazy coroutine<void> that completes once the body and every
 * child have finished; it throws the first failure, or cancelled_error if
 * it was cancelled.
 */
template <class Function>
coroutine<void> with_task_group(Function f)
{
  static_assert(std::is_invocable_r_v<coroutine<void>, Function&, task_group&>,
      "coflow::with_task_group: the function must take a coflow::task_group& and "
      "return a coflow::coroutine<void>");
  task_group group(std::make_shared<detail::group_state>(co_await this_coro::executor));
  // Named, not a temporary of the co_await: g++ 12 mishandles an aggregate
  // temporary there (its coroutine member is copied bitwise, then
  // destroyed twice).
  detail::group_node node{*group.state_, f(group)};
  co_await std::move(node);
}

} // namespace coflow

#endif // COFLOW_TASK_GROUP_HPP
