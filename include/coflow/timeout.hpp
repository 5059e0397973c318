//
// coflow/timeout.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// timeout and deadline: an await with a bound in time.
//
// Example (asio is boost::asio; std::chrono_literals are in scope):
//
// @code
// coflow::coroutine<int> slow()
// {
//   co_await coflow::sleep(1h);
//   co_return 1;
// }
//
// coflow::coroutine<int> bounded()
// {
//   try
//   {
//     co_return co_await coflow::timeout(1ms, slow());   // slow() is cancelled at 1 ms
//   }
//   catch (const coflow::timeout_error&)                 // not a cancel from above
//   {
//     co_return -1;
//   }
// }
//
// asio::io_context io;
// auto f = coflow::spawn(io, bounded(), asio::use_future);
// io.run();              // f.get() == -1, after 1 ms
// @endcode
//

/// @file
/// timeout() and deadline(): an await with a bound in time.
///
/// The source of this header opens with an example.

#ifndef COFLOW_TIMEOUT_HPP
#define COFLOW_TIMEOUT_HPP

#include <coflow/coroutine.hpp>
#include <coflow/detail/fan_in.hpp>
#include <coflow/sleep.hpp>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <tuple>
#include <utility>

namespace coflow {

/// The failure of a timeout() or deadline() whose time passed.
/**
 * A @c boost::system::system_error with code @c boost::asio::error::timed_out;
 * not a cancelled_error, so that a caller tells its own deadline from a
 * cancel that came from above (which throws cancelled_error).
 */
class timeout_error : public boost::system::system_error
{
public:
  /// Constructs the error with code @c timed_out.
  timeout_error()
    : boost::system::system_error(boost::asio::error::make_error_code(boost::asio::error::timed_out))
  {
  }
};

namespace detail {

/// @p x raced against @p timer, which a pause does not reach: a deadline is
/// wall-clock.
template <class R>
coroutine<R> bounded_by(coroutine<R> x, coroutine<void> timer)
{
  auto node = fan_in(fan_in_policy::race, std::move(x), std::move(timer));
  node.controls.unpaused = 0b10;
  auto done = co_await std::move(node);
  if (done.first == 1)
    throw timeout_error(); // x, cancelled, has finished
  co_return unwrap<R>(std::move(std::get<0>(done.outcomes)));
}

} // namespace detail

/// A coroutine that awaits @p x for at most @p d from its start (DESIGN.md §7).
/**
 * @p x is anything a coroutine body can await. When the time passes first,
 * @p x is cancelled, and once it has finished the coroutine throws
 * timeout_error. The time runs on while paused: a deadline that passes
 * while paused cancels @p x (a cancel overrides a pause), and the
 * timeout_error is held until the last unpause. A cancel of the coroutine
 * cancels @p x and throws cancelled_error. Pause and unpause reach @p x,
 * not the timer. After the deadline, a value of @p x is discarded, and an
 * error other than cancelled_error goes to the unhandled-error handler.
 *
 * Lazy: the time counts from when the coroutine starts (awaited as a child,
 * on its awaiter's executor, or spawned), which is when an unstarted
 * coroutine @p x, or an operation with use_coroutine, starts too.
 * @param d The longest time to wait, on @c std::chrono::steady_clock.
 * @param x What to await: a coroutine, a deferred, an Asio operation with
 * use_coroutine, an `asio::awaitable`, a combinator.
 * @returns a lazy coroutine of @p x's result; it throws @p x's error, or
 * timeout_error, or cancelled_error if it was cancelled.
 * @throws std::logic_error at the call, for an empty coroutine handle.
 */
template <class X>
coroutine<detail::branch_result_t<X>> timeout(std::chrono::steady_clock::duration d, X x)
{
  return detail::bounded_by(detail::as_branch(std::move(x)), sleep(d));
}

/// timeout() with a time point: @p x is cancelled once @p tp has passed.
/**
 * As timeout() in every other respect.
 * @param tp The time point, on @c std::chrono::steady_clock.
 * @param x What to await, as for timeout().
 * @returns a lazy coroutine of @p x's result, as timeout()'s.
 * @throws std::logic_error at the call, for an empty coroutine handle.
 */
template <class X>
coroutine<detail::branch_result_t<X>> deadline(std::chrono::steady_clock::time_point tp, X x)
{
  return detail::bounded_by(detail::as_branch(std::move(x)), sleep_until(tp));
}

} // namespace coflow

#endif // COFLOW_TIMEOUT_HPP
