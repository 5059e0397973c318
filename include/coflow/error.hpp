//
// coflow/error.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The exceptions that coflow raises for cancellation and for misuse of a
// one-shot result.
//
// Example (asio is boost::asio):
//
// @code
// asio::io_context io;
// coflow::deferred<int> d(io);
// std::future<int> f = d.async_wait(asio::use_future);
// d.cancel();                                    // no canceller: d fails
// io.run();
// boost::system::error_code code;
// try
// {
//   f.get();
// }
// catch (const boost::system::system_error& e)   // a coflow::cancelled_error
// {
//   code = e.code();                             // asio::error::operation_aborted
// }
// @endcode
//

/// @file
/// The exceptions that coflow raises for cancellation and for misuse of a
/// one-shot result.
///
/// The source of this header opens with an example.

#ifndef COFLOW_ERROR_HPP
#define COFLOW_ERROR_HPP

#include <boost/system/system_error.hpp>

#include <exception>
#include <stdexcept>

namespace coflow {

/// The failure of a cancelled deferred or coroutine.
/**
 * Thrown at the suspension point of a cancelled coroutine and delivered to the
 * consumers of a cancelled deferred. It is a @c boost::system::system_error
 * whose code is @c boost::asio::error::operation_aborted, so code written for
 * Asio's own cancellation (`catch (const boost::system::system_error& e)` and
 * a test of `e.code()`) handles it unchanged.
 *
 * A deferred whose final result is a @c cancelled_error is never reported as an
 * unhandled error: whoever cancelled it already knows.
 */
class cancelled_error : public boost::system::system_error
{
public:
  /// Constructs the error with code @c operation_aborted.
  cancelled_error();
};

/// Raised by firing a deferred that has already been fired.
/**
 * `callback()` and `errback()` may be called once per deferred. After a
 * `cancel()` has failed an unfired deferred, the producer's next call is
 * ignored (the producer could not know), and only a further one throws.
 */
class already_called_error : public std::logic_error
{
public:
  /// Constructs the error with a fixed message.
  already_called_error();
};

namespace detail {

/// One cancelled_error shared by every cancellation: a cancelled chain
/// rethrows it at each level instead of building a new exception per level.
/// Rethrowing one exception object from several threads is allowed; nothing
/// in coflow modifies it.
const std::exception_ptr& shared_cancelled_error() noexcept;

} // namespace detail
} // namespace coflow

#endif // COFLOW_ERROR_HPP
