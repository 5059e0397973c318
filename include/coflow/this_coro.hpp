//
// coflow/this_coro.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Tags that a coroutine body awaits to learn about itself.
//
// Example (asio is boost::asio):
//
// @code
// coflow::coroutine<int> later(int v)
// {
//   auto ex = co_await coflow::this_coro::executor;  // its own; never suspends
//   asio::steady_timer timer(ex, std::chrono::milliseconds(1));
//   co_await timer.async_wait(coflow::use_coroutine);
//   co_return v;
// }
//
// asio::io_context io;
// auto f = coflow::spawn(asio::make_strand(io), later(7), asio::use_future);
// io.run();              // f.get() == 7
// @endcode
//

/// @file
/// Tags that a coroutine body awaits to learn about itself.
///
/// The source of this header opens with an example.

#ifndef COFLOW_THIS_CORO_HPP
#define COFLOW_THIS_CORO_HPP

namespace coflow {

/// Tags that a coroutine body awaits to learn about itself, as
/// `boost::asio::this_coro` has for `asio::awaitable`.
namespace this_coro {

/// `co_await coflow::this_coro::executor` gives the coroutine's executor.
/// It never suspends, and is exempt from the sticky cancel.
/**
 * The value is a copy of the executor the body runs on, of the coroutine's
 * `executor_type`. Only a coflow coroutine body awaits it; Asio's
 * `boost::asio::this_coro::executor` is not accepted there (a
 * `static_assert` says what to write instead).
 */
struct executor_t
{
  /// Constructs the tag.
  constexpr executor_t() noexcept = default;
};

/// The tag object. See executor_t.
inline constexpr executor_t executor{};

} // namespace this_coro
} // namespace coflow

#endif // COFLOW_THIS_CORO_HPP
