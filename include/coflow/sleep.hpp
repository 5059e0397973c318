//
// coflow/sleep.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// sleep and sleep_until: coroutines that finish once a time has passed.
//
// Example (asio is boost::asio):
//
// @code
// coflow::coroutine<int> tick(int n)
// {
//   for (int i = 0; i < n; ++i)
//     co_await coflow::sleep(std::chrono::milliseconds(1));  // pausable, cancellable
//   co_return n;
// }
//
// asio::io_context io;
// auto f = coflow::spawn(io, tick(3), asio::use_future);
// io.run();              // f.get() == 3, after 3 ms at least
// @endcode
//

/// @file
/// sleep() and sleep_until(): coroutines that finish once a time has
/// passed.
///
/// The source of this header opens with an example.

#ifndef COFLOW_SLEEP_HPP
#define COFLOW_SLEEP_HPP

#include <coflow/coroutine.hpp>
#include <coflow/this_coro.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace coflow {

/// A coroutine that finishes once @p tp has passed (DESIGN.md §7).
/**
 * Lazy, like every coroutine: awaited as a child, it waits on a
 * @c steady_timer on its parent's executor (spawned: on the executor it is
 * spawned on). The deadline is wall-clock: it passes while paused, and the
 * completion is then held until the last unpause. A cancel reaches the
 * timer: the coroutine fails with cancelled_error at once, not at the
 * deadline. A time point already past finishes it without waiting (the
 * timer completes through the executor).
 * @param tp The time point, on @c std::chrono::steady_clock.
 * @returns a lazy coroutine<void>.
 */
inline coroutine<void> sleep_until(std::chrono::steady_clock::time_point tp)
{
  boost::asio::steady_timer timer(co_await this_coro::executor, tp);
  co_await detail::quiet_operation{timer.async_wait(use_coroutine)};
}

/// A coroutine that finishes once @p d has passed since it started (not
/// since the call: `join(sleep(d), x)` sleeps from when the join starts).
/// Otherwise as sleep_until().
/// @param d The duration, on @c std::chrono::steady_clock.
/// @returns a lazy coroutine<void>.
inline coroutine<void> sleep(std::chrono::steady_clock::duration d)
{
  boost::asio::steady_timer timer(co_await this_coro::executor, d);
  co_await detail::quiet_operation{timer.async_wait(use_coroutine)};
}

} // namespace coflow

#endif // COFLOW_SLEEP_HPP
