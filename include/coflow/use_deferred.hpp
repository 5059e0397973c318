//
// coflow/use_deferred.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// use_deferred: the completion token that turns any Asio asynchronous
// operation into a coflow::deferred.
//
// Example (asio is boost::asio):
//
// @code
// asio::io_context io;
// asio::steady_timer timer(io, std::chrono::milliseconds(1));
// coflow::deferred<void> fired = timer.async_wait(coflow::use_deferred);
// bool done = false;
// fired.add_callback([&] { done = true; });  // or co_await it, or async_wait
// io.run();              // done == true
// @endcode
//

/// @file
/// use_deferred: the completion token that turns any Asio asynchronous
/// operation into a coflow::deferred.
///
/// The source of this header opens with an example.

#ifndef COFLOW_USE_DEFERRED_HPP
#define COFLOW_USE_DEFERRED_HPP

#include <coflow/deferred.hpp>
#include <coflow/detail/default_token.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

namespace coflow {

/// A completion token that makes an asynchronous operation return a deferred.
/**
 * `timer.async_wait(coflow::use_deferred)` starts the operation at once and
 * returns a `deferred<void>`; `sock.async_read_some(buf, coflow::use_deferred)`
 * a `deferred<std::size_t>`. The completion signature maps to the value type:
 *
 * | signature                      | deferred of            |
 * |--------------------------------|------------------------|
 * | `()`, `(error_code)`           | `void`                 |
 * | `(error_code, A)`, `(A)`       | `A`                    |
 * | `(error_code, A, B...)`        | `std::tuple<A, B...>`  |
 * | `(A, B...)`                    | `std::tuple<A, B...>`  |
 *
 * A leading `std::exception_ptr` is treated like an `error_code`. A failing
 * error code fails the deferred with @c boost::system::system_error.
 *
 * The deferred is bound to the operation's I/O executor (the initiation's
 * `get_executor()`, or the system executor for operations without one), and
 * the operation completes into it on that executor.
 *
 * `cancel()` on the unfired deferred emits @c cancellation_type::terminal on
 * the cancellation slot bound to the operation. The deferred fails with
 * cancelled_error once the operation has completed, never before, whatever
 * it completed with (its result is discarded): a coroutine that awaits it
 * and is cancelled does not unwind while the operation may still use the
 * frame's buffers. Meanwhile the deferred is not `called()`, a second
 * `cancel()` does nothing, and a pause does not hold the failure when it
 * comes. An operation that destroys its handler without calling it has
 * ended too: after a cancel the deferred then fails (posted), except during
 * the context's shutdown, which calls nothing; without a cancel, nothing
 * fires it. Once the operation has completed, a cancel fails the deferred
 * at once. The memory the operation uses (buffers) must stay valid until
 * the operation completes, as with any Asio operation.
 *
 * @par Default token
 * As Asio's `use_awaitable_t`, the type has `as_default_on(object)`, which
 * returns @c object with use_deferred as its default completion token
 * (`coflow::deferred<void> d = timer.async_wait();`),
 * `as_default_on_t<IoObject>`, that object's type, and
 * `executor_with_default<Executor>`, the executor adapter behind them.
 */
class use_deferred_t : public detail::default_token<use_deferred_t>
{
public:
  /// Constructs the token.
  constexpr use_deferred_t() noexcept = default;
};

/// The completion token object. See use_deferred_t.
inline constexpr use_deferred_t use_deferred{};

} // namespace coflow

#include <coflow/impl/use_deferred.hpp>

#endif // COFLOW_USE_DEFERRED_HPP
