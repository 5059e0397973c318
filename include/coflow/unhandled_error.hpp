//
// coflow/unhandled_error.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Where errors go that nobody received: a deferred whose final result is an
// error that no consumer and no errback saw reports it when its last handle
// goes away, as Twisted logs "Unhandled error in Deferred".
//
// Example (asio is boost::asio):
//
// @code
// std::vector<std::string> lost;
// auto previous = coflow::set_unhandled_error_handler([&](std::exception_ptr e) {
//   try
//   {
//     std::rethrow_exception(e);
//   }
//   catch (const std::exception& x)
//   {
//     lost.push_back(x.what());
//   }
// });
// {
//   asio::io_context io;
//   coflow::deferred<int> d(io);
//   d.errback(std::make_exception_ptr(std::runtime_error("nobody listened")));
// }                      // d's last handle goes: its error is reported
// coflow::set_unhandled_error_handler(previous);  // lost == {"nobody listened"}
// @endcode
//

/// @file
/// Where errors go that nobody received: a deferred whose final result is an
/// error that no consumer and no errback saw reports it when its last handle
/// goes away, as Twisted logs "Unhandled error in Deferred".
///
/// The source of this header opens with an example.

#ifndef COFLOW_UNHANDLED_ERROR_HPP
#define COFLOW_UNHANDLED_ERROR_HPP

#include <exception>
#include <functional>

namespace coflow {

/// The type of the unhandled-error handler.
using unhandled_error_handler = std::function<void(std::exception_ptr)>;

/// Installs the handler that receives errors nobody else received.
/**
 * The handler is called with the error, on the thread that finds it
 * unreceived: the one that released the last handle of the deferred (or of
 * the finished coroutine), or that ran the failing cleanup, the throwing
 * canceller, the combinator or group whose later branch failed, the
 * coroutine spawned with `asio::detached`. A cancelled_error is never
 * passed. An exception that escapes the handler is swallowed. Passing an
 * empty function restores the default handler, which writes one line to
 * @c std::cerr.
 *
 * Thread-safe: the handler is copied under a lock and called outside it,
 * so a handler may install another, and it may run on several threads at
 * once.
 *
 * @param handler The new handler, or an empty function for the default.
 * @returns The previously installed handler (empty if it was the default).
 */
unhandled_error_handler set_unhandled_error_handler(unhandled_error_handler handler);

namespace detail {

/// Reports @p error to the installed handler, unless it is a cancelled_error.
/**
 * Cancellation is not reported: it was asked for. Never throws.
 */
void report_unhandled_error(std::exception_ptr error) noexcept;

} // namespace detail
} // namespace coflow

#endif // COFLOW_UNHANDLED_ERROR_HPP
