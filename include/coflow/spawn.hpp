//
// coflow/spawn.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// spawn: starts a coroutine on an executor, as co_spawn starts an awaitable.
//
// Example (asio is boost::asio):
//
// @code
// coflow::coroutine<int> answer()
// {
//   co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
//   co_return 42;
// }
//
// asio::io_context io;
// coflow::coroutine<int> c = coflow::spawn(io, answer());              // a handle
// std::future<int> f = coflow::spawn(io, answer(), asio::use_future);  // a token
// coflow::spawn(io, answer(), asio::detached);                   // fire and forget
// coflow::spawn(io, [] { return answer(); }, asio::detached);    // a callable
// io.run();              // nothing runs before: the starts are posted
// @endcode
//

/// @file
/// spawn(): starts a coroutine on an executor, as `co_spawn` starts an
/// awaitable.
///
/// The source of this header opens with an example.

#ifndef COFLOW_SPAWN_HPP
#define COFLOW_SPAWN_HPP

#include <coflow/coroutine.hpp>
#include <coflow/detail/spawn.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/detached.hpp>

#include <stdexcept>
#include <type_traits>
#include <utility>

namespace coflow {

/// Starts @p c on @p ex (an executor or an execution context).
/**
 * The start is posted, as co_spawn's: the body never runs inside this call,
 * and then runs on @p ex, every `co_await` resuming it there. The coroutine
 * is outstanding work of @p ex until it completes, so `run()` waits for it.
 * A pause of the unstarted coroutine holds its start until the last
 * unpause; a cancel of it completes it with cancelled_error without
 * running the body. An exception before the first suspension fails the
 * coroutine; it is never thrown out of spawn.
 *
 * The returned handle refers to the started coroutine. A coroutine keeps
 * running when every handle is gone; to start one without keeping a handle,
 * write `coflow::spawn(ex, c, asio::detached)`.
 *
 * @param ex An executor, or an execution context (its executor is used),
 * convertible to the coroutine's executor type.
 * @param c An unstarted coroutine.
 * @returns @p c, started: a handle to the same coroutine.
 * @throws std::logic_error if @p c is empty or has already started.
 */
template <class ExecutorOrContext, class T, class Executor>
coroutine<T, Executor> spawn(ExecutorOrContext&& ex, coroutine<T, Executor> c)
{
  auto& t = detail::coroutine_access::state_of(c);
  t.start_posted(detail::executor_of<Executor>(ex));
  return c;
}

/// Starts @p c on @p ex and completes through @p token with
/// `void(std::exception_ptr, T)` (`void(std::exception_ptr)` for void), like
/// co_spawn.
/**
 * The start happens when the operation is initiated, and is posted, as for
 * spawn(ex, c): the body runs on @p ex. The completion handler is invoked
 * once the coroutine's result is delivered, through the coroutine's
 * executor (and the handler's associated executor). A cancellation slot
 * bound to the token cancels the coroutine, with its cascade.
 *
 * `coflow::spawn(ex, c, asio::detached)` is the fire-and-forget form: it
 * returns nothing (so nothing to discard), and an error of the coroutine,
 * other than cancelled_error, goes to the unhandled-error handler (see
 * set_unhandled_error_handler()), as nobody else can receive it. (co_spawn's
 * detached drops it.)
 *
 * @param ex An executor, or an execution context (its executor is used).
 * @param c An unstarted coroutine.
 * @param token The completion token.
 * @returns what the token makes of the operation (nothing for
 * `asio::detached` and a callback, a `std::future` for `asio::use_future`,
 * ...).
 * @throws std::logic_error at the call, if @p c is empty or has already
 * started.
 */
template <class ExecutorOrContext, class T, class Executor,
    BOOST_ASIO_COMPLETION_TOKEN_FOR(typename detail::wait_signature<T>::type) Token>
auto spawn(ExecutorOrContext&& ex, coroutine<T, Executor> c, Token&& token)
{
  if (!c)
    throw std::logic_error("coflow: spawn of an empty coroutine handle");
  if (c.started())
    throw std::logic_error("coflow: the coroutine has already started");
  detail::initiate_spawn<T, Executor> initiation(
      std::move(c), detail::executor_of<Executor>(ex));
  if constexpr (std::is_same_v<std::decay_t<Token>, boost::asio::detached_t>)
    return std::move(initiation)(detail::report_detached_error{});
  else
    return boost::asio::async_initiate<Token, typename detail::wait_signature<T>::type>(
        std::move(initiation), token);
}

/// Starts the coroutine that @p f returns on @p ex, and keeps @p f alive
/// until that coroutine has finished, as co_spawn keeps its function.
/**
 * @p f is called with no arguments, as an lvalue, and returns a
 * `coroutine<T, E>`. A lambda's captures live in the closure object, which
 * its coroutine body reads through `this`: `spawn(ex, [&] { ... })` is safe
 * where `spawn(ex, [&] { ... }())` lets the closure die while its coroutine
 * still runs. @p f is moved (or copied) into the returned coroutine's frame,
 * destroyed once, after the coroutine that it returned has finished (or
 * without being called, if the returned coroutine is cancelled before it
 * starts).
 *
 * The call of @p f is posted with the start, and the coroutine it returns
 * runs as the child of the returned one: pause and cancel of the returned
 * handle cascade into it; its result is the returned coroutine's, and an
 * exception from @p f fails it (never thrown out of spawn).
 *
 * @param ex An executor, or an execution context (its executor is used).
 * @param f A callable that takes no arguments and returns a coroutine.
 * @returns The started coroutine<T, E> that stands for @p f's coroutine.
 */
template <class ExecutorOrContext, class F>
  requires detail::coroutine_factory<F>
detail::factory_result_t<F> spawn(ExecutorOrContext&& ex, F&& f)
{
  return coflow::spawn(std::forward<ExecutorOrContext>(ex),
      detail::make_call_and_await(std::forward<F>(f)));
}

/// Starts the coroutine that @p f returns on @p ex, keeps @p f alive until
/// it has finished, and completes through @p token with
/// `void(std::exception_ptr, T)`, like `co_spawn(ex, f, token)`.
/**
 * As spawn(ex, f) for @p f, and as spawn(ex, c, token) for @p token:
 * `asio::detached` reports errors to the unhandled-error handler; a
 * cancellation slot bound to the token cancels the coroutine, and the
 * cancel cascades into the one that @p f returned.
 * @param ex An executor, or an execution context (its executor is used).
 * @param f A callable that takes no arguments and returns a coroutine.
 * @param token The completion token.
 * @returns what the token makes of the operation.
 */
template <class ExecutorOrContext, class F,
    BOOST_ASIO_COMPLETION_TOKEN_FOR(
        typename detail::factory_result_t<F>::wait_signature) Token>
  requires detail::coroutine_factory<F>
auto spawn(ExecutorOrContext&& ex, F&& f, Token&& token)
{
  return coflow::spawn(std::forward<ExecutorOrContext>(ex),
      detail::make_call_and_await(std::forward<F>(f)), std::forward<Token>(token));
}

} // namespace coflow

#endif // COFLOW_SPAWN_HPP
