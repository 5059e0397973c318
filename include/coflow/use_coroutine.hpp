//
// coflow/use_coroutine.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// use_coroutine: the completion token for Asio operations awaited inside
// coflow coroutine bodies, as use_awaitable is for asio::awaitable.
//
// Example (asio is boost::asio):
//
// @code
// coflow::coroutine<int> wait_on(asio::steady_timer& timer)
// {
//   // Throws boost::system::system_error on an error; pause and cancel of the
//   // coroutine reach the wait.
//   co_await timer.async_wait(coflow::use_coroutine);
//   co_return 1;
// }
//
// asio::io_context io;
// asio::steady_timer timer(io, std::chrono::hours(1));
// coflow::coroutine<int> c = coflow::spawn(io, wait_on(timer));
// asio::post(io, [&] { c.cancel(); });  // reaches the timer's wait
// io.run();              // at once: c failed with coflow::cancelled_error
// @endcode
//

/// @file
/// use_coroutine: the completion token for Asio operations awaited inside
/// coflow coroutine bodies, as `use_awaitable` is for `asio::awaitable`.
///
/// The source of this header opens with an example.

#ifndef COFLOW_USE_COROUTINE_HPP
#define COFLOW_USE_COROUTINE_HPP

#include <coflow/detail/default_token.hpp>


namespace coflow {

/// A completion token that makes an operation awaitable in a coroutine body.
/**
 * `co_await timer.async_wait(coflow::use_coroutine)` initiates the operation
 * when awaited, with the coroutine's executor and a cancellation slot of the
 * awaiting coroutine bound to it; it allocates nothing beyond what the
 * operation itself needs. The result maps as for use_deferred: a failing
 * error code is thrown as @c boost::system::system_error, the value is
 * returned (nothing, one value, or a tuple).
 *
 * Cascade: while the coroutine is paused, a completion is held in full until
 * the last unpause; a cancel emits @c cancellation_type::terminal on the
 * operation's slot, and the body resumes with cancelled_error once the
 * operation has completed (its buffers stay valid until then).
 *
 * Only a coflow coroutine body can await the returned operation object.
 *
 * @par Adapters
 * Asio's token adapters work around it, and nest:
 * - `asio::redirect_error(coflow::use_coroutine, ec)`: a leading error code
 *   is stored in @c ec instead of being thrown.
 * - `asio::as_tuple(coflow::use_coroutine)`: every argument, error code
 *   included, comes back as one tuple; nothing is thrown.
 * - `asio::experimental::as_single(coflow::use_coroutine)`: two or more
 *   arguments come back as one tuple; a lone error code stays an error code,
 *   thrown as without the adapter (as with @c use_awaitable).
 * - `asio::bind_cancellation_slot(slot, coflow::use_coroutine)`: an emission
 *   on @c slot cancels the operation (the body sees its error, e.g.
 *   @c operation_aborted, and goes on); the coroutine's own cancel still
 *   reaches the operation too. The slot is cleared when the operation
 *   completes. Its signal must outlive the operation and be emitted on the
 *   coroutine's executor, as for any bound slot.
 * - `asio::bind_allocator(alloc, coflow::use_coroutine)`: the operation
 *   allocates its state with @c alloc; the coroutine's executor and slot
 *   still reach it.
 *
 * Whatever the adapter, a cancel of the coroutine makes the body resume with
 * cancelled_error (after the operation completes, its error code stored by
 * redirect_error).
 *
 * @par Default token
 * As Asio's `use_awaitable_t`, the type has `as_default_on(object)`, which
 * returns @c object with use_coroutine as its default completion token
 * (`co_await timer.async_wait();`), `as_default_on_t<IoObject>`, that
 * object's type, and `executor_with_default<Executor>`, the executor
 * adapter behind them.
 */
class use_coroutine_t : public detail::default_token<use_coroutine_t>
{
public:
  /// Constructs the token.
  constexpr use_coroutine_t() noexcept = default;
};

/// The completion token object. See use_coroutine_t.
inline constexpr use_coroutine_t use_coroutine{};

} // namespace coflow

#include <coflow/impl/use_coroutine.hpp>

#endif // COFLOW_USE_COROUTINE_HPP
