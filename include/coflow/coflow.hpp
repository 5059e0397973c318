//
// coflow/coflow.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Includes every public header of coflow.
//
// Example (asio is boost::asio):
//
// @code
// coflow::coroutine<int> after(asio::steady_timer& timer, int v)
// {
//   co_await timer.async_wait(coflow::use_coroutine);
//   co_return v;
// }
//
// asio::io_context io;
// asio::steady_timer timer(io, std::chrono::milliseconds(1));
// coflow::coroutine<int> c = coflow::spawn(io, after(timer, 42));
// c.pause();                                     // holds it...
// asio::steady_timer release(io, std::chrono::milliseconds(5));
// release.async_wait([&](auto) { c.unpause(); });  // ...until 5 ms
// std::future<int> f = c.async_wait(asio::use_future);
// io.run();              // f.get() == 42, not before 5 ms
// @endcode
//

/// @file
/// Includes every public header of coflow (coflow/await_tree.hpp only
/// without `COFLOW_NO_INTROSPECTION`).
///
/// The source of this header opens with an example.

/**
 * @namespace coflow
 * @brief Twisted's Deferred and txcoroutine's coroutines for Boost.Asio:
 * deferreds, and coroutines whose pause, unpause and cancel cascade.
 *
 * The rules that the entries of this reference rely on:
 *
 * - **Where code resumes.** A coroutine's body runs on its executor (the
 *   one spawn() gave it, or its awaiter's for a child), and every
 *   `co_await` resumes it there. A deferred's consumers are invoked through
 *   the deferred's executor with post semantics: never inside callback(),
 *   errback(), cancel() or unpause(). Its callback chain runs
 *   synchronously: inside the call that fires it, that adds a link to a
 *   fired deferred, or that makes the last unpause().
 * - **What cascades.** A coroutine's pause, unpause and cancel reach what
 *   its body awaits, recursively: a child coroutine, a deferred, an Asio
 *   operation (a cancel through its cancellation slot; a pause holds its
 *   completion), an `asio::awaitable`, every branch of a combinator or task
 *   group. A cancel unwinds innermost first, and overrides a pause.
 * - **What is thrown.** A cancel makes the awaiting body throw
 *   cancelled_error at its suspension point. Misuse throws
 *   @c std::logic_error: an operation on an empty handle, an unpause without
 *   a pause, a second firing (already_called_error). An error that nobody
 *   received goes to the unhandled-error handler
 *   (set_unhandled_error_handler()); a cancelled_error never does.
 * - **Threads.** A coroutine's pause(), unpause() and cancel() are safe from
 *   any thread. Every other operation on a shared object is made from its
 *   executor, as for Asio's I/O objects. Handles may be copied and
 *   destroyed on any thread.
 * - **Combinators** (join(), gather(), race(), timeout(), deadline(),
 *   sleep(), sleep_until(), with_task_group()) return a lazy coroutine: it
 *   starts when it is awaited or spawned, and its branches start with it,
 *   on its executor. None completes while a branch still runs.
 *
 * The nested namespace `coflow::detail` is implementation, not interface.
 */

#ifndef COFLOW_COFLOW_HPP
#define COFLOW_COFLOW_HPP

#ifndef COFLOW_NO_INTROSPECTION
#include <coflow/await_tree.hpp>
#endif
#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/error.hpp>
#include <coflow/gather.hpp>
#include <coflow/join.hpp>
#include <coflow/race.hpp>
#include <coflow/shield.hpp>
#include <coflow/sleep.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>
#include <coflow/task_group.hpp>
#include <coflow/timeout.hpp>
#include <coflow/this_coro.hpp>
#include <coflow/unhandled_error.hpp>
#include <coflow/use_coroutine.hpp>
#include <coflow/use_deferred.hpp>

#endif // COFLOW_COFLOW_HPP
