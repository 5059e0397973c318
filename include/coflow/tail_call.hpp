//
// coflow/tail_call.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// tail_call: `co_return co_await coflow::tail_call(next);` replaces the
// running coroutine's frame with the next state's, so a state machine can
// hop forever in constant memory and stack.
//
// Example (asio is boost::asio):
//
// @code
// coflow::coroutine<long> count_down(long n, long hops)
// {
//   if (n == 0)
//     co_return hops;
//   // This frame goes; count_down(n - 1, ...) takes its place.
//   co_return co_await coflow::tail_call(count_down(n - 1, hops + 1));
// }
//
// asio::io_context io;
// auto f = coflow::spawn(io, count_down(100'000, 0), asio::use_future);
// io.run();              // f.get() == 100'000, in the memory of two frames
// @endcode
//

/// @file
/// tail_call(): `co_return co_await coflow::tail_call(next);` replaces the
/// running coroutine's frame with the next state's, so a state machine can
/// hop forever in constant memory and stack.
///
/// The source of this header opens with an example.

#ifndef COFLOW_TAIL_CALL_HPP
#define COFLOW_TAIL_CALL_HPP

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>

#include <utility>

namespace coflow {

/// What `co_await coflow::tail_call(x)` awaits inside a coroutine body:
/// a coroutine<T, Executor> or a deferred<T, E> to hand the coroutine over
/// to. Only a coflow coroutine body can await it.
/// @tparam Next `coroutine<T, Executor>` or `deferred<T, E>`.
template <class Next>
class [[nodiscard]] tail_call_t
{
public:
  /// Holds @p next until the tail call is awaited; tail_call() makes it.
  /// @param next The next state.
  explicit tail_call_t(Next next) noexcept(std::is_nothrow_move_constructible_v<Next>)
    : next_(std::move(next))
  {
  }

  /// The next state.
  /// @returns a reference to the next state held here.
  Next& next() noexcept { return next_; }

private:
  Next next_;
};

/// Ends the running coroutine by handing it over to @p next.
/**
 * Use as `co_return co_await coflow::tail_call(next);` in a coroutine<T,
 * Executor> body, where @p next produces the same T.
 *
 * - An unstarted coroutine nobody else holds: the running frame is
 *   destroyed (its locals' destructors run) before @p next's first
 *   statement, and @p next's frame becomes the body of the same coroutine:
 *   same handle, consumers, pause count and cancel state. No stack and no
 *   memory grow, however many hops.
 * - A started coroutine (or one whose handle is shared), or a deferred: the
 *   running frame is destroyed and the coroutine's result becomes @p next's;
 *   pause and cancel still reach @p next.
 *
 * An unstarted @p next that is shared, paused or cancelled is started on the
 * running coroutine's executor and keeps its own pause and cancel state.
 *
 * A tail call is a suspension point: with a cancel pending, @p next is
 * dropped unstarted and the body unwinds with cancelled_error. While the
 * coroutine is paused, the next state does not start. A @p next of another
 * result or executor type is a compile error (one `static_assert`).
 * @param next The next state: a coroutine of the same @c T and executor
 * type.
 * @returns the object to `co_await`, at once, in the body.
 * @throws std::logic_error at the `co_await`, if @p next is the running
 * coroutine itself or awaits it.
 */
template <class T, class Executor>
tail_call_t<coroutine<T, Executor>> tail_call(coroutine<T, Executor> next) noexcept
{
  return tail_call_t<coroutine<T, Executor>>(std::move(next));
}

/// See tail_call(coroutine): the coroutine's result becomes @p next's.
/**
 * The running frame is destroyed, and the coroutine waits on @p next as on
 * any deferred: its pause and cancel reach @p next.
 * @param next A deferred of the same @c T.
 * @returns the object to `co_await`, at once, in the body.
 */
template <class T, class Executor>
tail_call_t<deferred<T, Executor>> tail_call(deferred<T, Executor> next) noexcept
{
  return tail_call_t<deferred<T, Executor>>(std::move(next));
}

} // namespace coflow

#endif // COFLOW_TAIL_CALL_HPP
