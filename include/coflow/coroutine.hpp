//
// coflow/coroutine.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// coroutine<T, Executor>: the return type of coflow coroutine functions. A
// coroutine is a deferred whose result its body produces, and whose pause(),
// unpause() and cancel() cascade to what the body awaits, recursively.
//
// Example (asio is boost::asio):
//
// @code
// coflow::coroutine<int> child(coflow::deferred<int> d)
// {
//   co_return co_await d + 1;      // suspends until d fires
// }
//
// coflow::coroutine<int> parent(coflow::deferred<int> d)
// {
//   int v = co_await child(d);     // a child: starts inline, on parent's executor
//   co_return v * 2;
// }
//
// asio::io_context io;
// coflow::deferred<int> d(io);
// coflow::coroutine<int> c = coflow::spawn(io, parent(d));
// std::future<int> f = c.async_wait(asio::use_future);
// asio::post(io, [&] {   // by now parent -> child -> waits on d
//   c.pause();           // cascades down to d
//   d.callback(20);      // held by the pause
// });
// asio::post(io, [&] { c.unpause(); });  // released: f.get() == 42
// io.run();
// @endcode
//

/// @file
/// coroutine<T, Executor>: the return type of coflow coroutine functions. A
/// coroutine is a deferred whose result its body produces, and whose pause(),
/// unpause() and cancel() cascade to what the body awaits, recursively.
///
/// The source of this header opens with an example.

#ifndef COFLOW_COROUTINE_HPP
#define COFLOW_COROUTINE_HPP

#include <coflow/deferred.hpp>
#include <coflow/detail/coroutine_promise.hpp>
#include <coflow/detail/coroutine_state.hpp>
#include <coflow/detail/wait_operation.hpp>
#include <coflow/this_coro.hpp>
#include <coflow/use_coroutine.hpp> // what a body awaits Asio operations with

#include <boost/asio/any_io_executor.hpp>

#include <utility>

namespace coflow {

/// A coroutine whose pause, unpause and cancel cascade: the return type of
/// coflow coroutine functions.
/**
 * A coroutine is a deferred whose result its body produces (DESIGN.md §4).
 * A @c coroutine object is a handle: its copies refer to the same coroutine.
 *
 * @par Starting
 * Calling a coroutine function creates its frame and returns an unstarted
 * coroutine; nothing of the body runs. It starts when a coflow coroutine
 * awaits it (as a child: inline, on the awaiter's executor) or when spawn()
 * starts it (posted to the executor given). The body runs on that executor,
 * and every `co_await` resumes it there.
 *
 * @par What a body awaits
 * A coroutine (an unstarted one starts as a child, a started one is waited
 * on), a deferred, an Asio operation with use_coroutine (or
 * `asio::deferred`), an `asio::awaitable`, a combinator (join(), gather(),
 * race(), timeout(), deadline(), sleep(), sleep_until(), shield(),
 * with_task_group()), tail_call(), and this_coro::executor. Anything else
 * is a compile error, one `static_assert` that lists these.
 *
 * @par Flow control
 * `pause()` / `unpause()` are counted. While paused, the body is not
 * resumed: a result that its awaited operation produces is held in full until
 * the last `unpause()`; the pause is forwarded to exactly what the body awaits
 * (a child coroutine, a deferred), and the last unpause releases exactly that.
 * `cancel()` forwards the cancel to what the body awaits (innermost first),
 * then resumes the body with cancelled_error at its suspension point; every
 * later `co_await` throws cancelled_error at once, and the result is
 * cancelled_error whatever the body does. A cancel overrides a pause.
 * Neither `unpause()` nor `cancel()` runs coroutine code inside the call.
 *
 * @par Consumers
 * Every deferred operation except firing: `async_wait(token)`, the callback
 * chain, `then()`, and conversion to `deferred<T, Executor>` (a cancel of that
 * deferred cancels the coroutine). These need a started coroutine (its
 * executor): on an unstarted one they throw @c std::logic_error. An error
 * that no consumer received (other than cancelled_error) goes to the
 * unhandled-error handler once the coroutine has finished and its last
 * handle is gone.
 *
 * @par Thread safety
 * `pause()`, `unpause()` and `cancel()` are safe from any thread, also while
 * the body runs on another thread of an executor without a strand. Handles
 * may be copied and destroyed on any thread. The other members are used as
 * an Asio I/O object is: from the coroutine's executor (a strand, or a
 * context that one thread runs).
 *
 * Every member function except the constructors, the assignment, the
 * destructor, `operator bool` and `operator==` throws @c std::logic_error on
 * an empty handle (default-constructed or moved-from). Dropping every handle
 * does not stop a started coroutine.
 *
 * @tparam T The result type; @c void for a result that carries no value.
 * @tparam Executor The type of the executor the body runs on.
 */
template <class T = void, class Executor = boost::asio::any_io_executor>
class [[nodiscard]] coroutine
{
public:
  /// The promise type that makes a function returning this type a
  /// coroutine function (implementation: the language's coroutine machinery
  /// uses it; user code does not).
  using promise_type = detail::coroutine_promise<T, Executor>;

  /// The type of the result that the body produces.
  using value_type = T;

  /// The type of the executor the body runs on.
  using executor_type = Executor;

  /// The completion signature of async_wait() and of spawn() with a token:
  /// `void(std::exception_ptr, T)`, or `void(std::exception_ptr)` for void.
  using wait_signature = typename detail::wait_signature<T>::type;

  /// An empty handle: it refers to no coroutine.
  coroutine() noexcept = default;

  /// Another handle to the coroutine of @p other (none if it is empty).
  /**
   * While another handle is kept, an awaiting body copies the result
   * instead of moving it, so that later consumers see it too.
   * @param other The handle to copy.
   */
  coroutine(const coroutine& other) noexcept : coro_(other.coro_)
  {
    if (coro_)
      coro_->add_ref();
  }

  /// Takes over the handle of @p other, which becomes empty.
  /// @param other The handle to move from.
  coroutine(coroutine&& other) noexcept : coro_(std::exchange(other.coro_, nullptr)) {}

  /// Makes this handle refer to the coroutine of @p other; the coroutine it
  /// referred to loses a handle, as by the destructor.
  /// @param other The handle to copy or move from.
  /// @returns `*this`.
  coroutine& operator=(coroutine other) noexcept
  {
    std::swap(coro_, other.coro_);
    return *this;
  }

  /// Drops this handle.
  /**
   * The last handle of an unstarted coroutine destroys its frame: the body
   * never runs, the parameters' destructors run. A started coroutine goes on
   * without handles, and is freed once it has finished and its last handle
   * is gone.
   */
  ~coroutine()
  {
    if (coro_ && coro_->release_last())
      coro_->destroy(); // typed: no virtual call
  }

  /// Whether this handle refers to a coroutine.
  /// @returns false for an empty handle (default-constructed or moved-from).
  explicit operator bool() const noexcept { return coro_ != nullptr; }

  /// Whether two handles refer to the same coroutine.
  /// @param a A handle.
  /// @param b Another handle.
  /// @returns true if both refer to the same coroutine, or both are empty.
  friend bool operator==(const coroutine& a, const coroutine& b) noexcept
  {
    return a.coro_ == b.coro_;
  }

  /// Whether the coroutine has started (spawned, or awaited as a child).
  /// @returns true once spawn(), an awaiting body or a combinator has
  /// started it, whether its body has run yet or not.
  bool started() const { return checked().started(); }

  /// Whether the coroutine has produced its result (delivered, or held by
  /// a pause).
  /// @returns true once its body (after a tail call: the next state) has
  /// produced the result: Twisted's `called`. Answers at any time, started
  /// or not.
  bool called() const { return checked().produced(); }

  /// The executor the body runs on.
  /// @returns the executor it was started on: spawn()'s, or its awaiter's
  /// for a child or a combinator's branch.
  /// @throws std::logic_error before start.
  executor_type get_executor() const { return checked().checked_executor(); }

  /// Pauses the coroutine and, once, what it awaits.
  /**
   * Counted: each pause() needs one unpause(). When the count goes from 0
   * to 1, the pause is forwarded to what the body awaits at that moment,
   * once, and that target is remembered: a child coroutine (which forwards
   * it in turn), a deferred (`d.pause()`), every branch of a combinator or
   * task group (a timeout's timer excepted: a deadline runs on). An Asio
   * operation or an `asio::awaitable` goes on; its completion is held.
   *
   * While paused, the body is not resumed: a result that arrives is held in
   * full, and the coroutine's own result is held from its consumers. A
   * pause that arrives while the body runs takes effect at its next
   * suspension point; an unstarted coroutine does not start until
   * unpaused. Pausing a shared deferred holds its other consumers too (the
   * pause belongs to the deferred).
   *
   * Safe from any thread; runs no coroutine code inside the call.
   */
  void pause() const { checked().pause(); }

  /// Undoes one pause(); the last one releases exactly what the first
  /// paused.
  /**
   * When the count returns to 0, the target that the pause reached is
   * unpaused, and a result held meanwhile resumes the body through its
   * executor (or, if the body has ended, goes to the consumers), never
   * inside this call. Safe from any thread.
   * @throws std::logic_error without a matching pause(); the count is
   * unchanged.
   */
  void unpause() const { checked().unpause(); }

  /// The number of pause() calls not yet balanced by unpause().
  /// @returns the count; 0 if the coroutine is not paused.
  unsigned pause_count() const { return checked().pause_count(); }

  /// Cancels the coroutine, innermost first. Idempotent; no effect once
  /// its result is produced.
  /**
   * The cancel goes first to what the body awaits: a child coroutine
   * (recursively), a deferred (`d.cancel()`: its canceller), an Asio
   * operation or an `asio::awaitable` (`cancellation_type::terminal` emitted
   * on its slot, on the coroutine's executor), every branch of a combinator
   * or task group. Once that has finished (an Asio operation in flight
   * completes first, so its buffers stay valid), the body resumes through
   * its executor with cancelled_error thrown at its suspension point, so
   * cleanup runs innermost first. Every later `co_await` of the body throws
   * cancelled_error at once (`this_coro::executor` and shield() excepted),
   * and the result is cancelled_error whatever the body does.
   *
   * A cancel overrides a pause: the pause forwarded is released first, and
   * the coroutine unwinds and delivers cancelled_error despite its own
   * pause count (a later unpause() balances it). An unstarted coroutine
   * never runs its body: once started, it completes with cancelled_error. A
   * cancel from inside the body takes effect at its next suspension point.
   * No effect once the result is produced (one held by a pause stays held).
   *
   * Safe from any thread; runs no coroutine code inside the call.
   */
  void cancel() const { checked().cancel(); }

  /// This coroutine as a deferred (the same result; its cancel() cancels
  /// the coroutine).
  /**
   * The deferred is bound to the coroutine's executor and fires when the
   * result is delivered (after the last unpause, if a pause holds it). Its
   * cancel() cancels the coroutine with its cascade; it then fires once the
   * coroutine has unwound. Firing it (callback(), errback()) throws
   * @c std::logic_error: the body alone produces the result. Every call
   * gives a handle to the same deferred.
   * @returns the coroutine's deferred.
   * @throws std::logic_error before start.
   */
  deferred<T, Executor> as_deferred() const
  {
    return detail::deferred_access::make<T, Executor>(checked().shared());
  }

  /// See as_deferred(): a started coroutine converts to its deferred.
  /// @returns as_deferred().
  /// @throws std::logic_error before start.
  operator deferred<T, Executor>() const { return as_deferred(); }

  /// Waits for the result with any Asio completion token, as
  /// deferred::async_wait() does on as_deferred().
  /**
   * The handler receives `(std::exception_ptr, T)` (`(std::exception_ptr)`
   * for void) once the result is delivered: the error, or a null pointer and
   * the value. It is invoked through the coroutine's executor (and the
   * handler's associated executor), never inside the call that delivers the
   * result. A cancellation slot bound to the token that emits `terminal`,
   * `partial` or `total` cancels the coroutine, with its cascade. @c T must
   * be default-constructible for this signature.
   * @param token The completion token, for the signature wait_signature.
   * @returns what the token makes of the operation (nothing for a callback,
   * a `std::future` for `asio::use_future`, ...).
   * @throws std::logic_error before start.
   */
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(wait_signature) WaitToken =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(WaitToken&& token =
                      boost::asio::default_completion_token_t<executor_type>()) const
  {
    return as_deferred().async_wait(std::forward<WaitToken>(token));
  }

  /// The coroutine as an Asio asynchronous operation (DESIGN.md §9): waits
  /// for its result through @p token, as async_wait() does.
  /**
   * An unstarted coroutine is first spawned (its start posted) on the
   * token's associated executor; a token without one (Asio's default,
   * the system executor) gives std::logic_error: spawn the coroutine first.
   * So an `asio::awaitable` writes `T v = co_await my_coroutine(args);`,
   * and started coroutines go into `asio::experimental::make_parallel_group`.
   * A cancellation slot bound to the token cancels the coroutine, with its
   * whole cascade. The completion signature has the arguments of
   * `wait_signature`.
   * @param token The completion token.
   * @returns what the token makes of the operation.
   * @throws std::logic_error when the operation is initiated, for an
   * unstarted coroutine and a token without an associated executor.
   */
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(
      typename detail::wait_operation_signature<T>::type) CompletionToken>
  auto operator()(CompletionToken&& token) const
  {
    return boost::asio::async_initiate<CompletionToken,
        typename detail::wait_operation_signature<T>::type>(
        detail::wait_initiation{}, token, *this);
  }

  /// Adds a callback and an errback to the chain of the coroutine's
  /// deferred: see deferred::add_callbacks().
  /**
   * The chain runs on the coroutine's executor when the result is
   * delivered, or inside this call if it already is.
   * @param cb Called with the value (nothing for void); returns the new one.
   * @param eb Called with the error; returns a value to recover, or throws.
   * @returns `*this`.
   * @throws std::logic_error before start.
   */
  template <class Callback, class Errback>
  const coroutine& add_callbacks(Callback cb, Errback eb) const
  {
    as_deferred().add_callbacks(std::move(cb), std::move(eb));
    return *this;
  }

  /// Adds a callback to the chain of the coroutine's deferred: see
  /// deferred::add_callback().
  /// @param cb Called with the value (nothing for void); returns the new one.
  /// @returns `*this`.
  /// @throws std::logic_error before start.
  template <class Callback>
  const coroutine& add_callback(Callback cb) const
  {
    as_deferred().add_callback(std::move(cb));
    return *this;
  }

  /// Adds an errback to the chain of the coroutine's deferred: see
  /// deferred::add_errback().
  /// @param eb Called with the error; returns a value to recover, or throws.
  /// @returns `*this`.
  /// @throws std::logic_error before start.
  template <class Errback>
  const coroutine& add_errback(Errback eb) const
  {
    as_deferred().add_errback(std::move(eb));
    return *this;
  }

  /// Adds @p f as both callback and errback of the coroutine's deferred: see
  /// deferred::add_both().
  /// @param f Called with the value (nothing for void) or with the error.
  /// @returns `*this`.
  /// @throws std::logic_error before start.
  template <class Function>
  const coroutine& add_both(Function f) const
  {
    as_deferred().add_both(std::move(f));
    return *this;
  }

  /// A new deferred of @p f's result type, fired from the coroutine's
  /// result: see deferred::then().
  /**
   * Cancelling the returned deferred while it is unfired cancels the
   * coroutine.
   * @param f Called with the value (`f(const T&)`, `f()` for void).
   * @returns a `deferred<U, Executor>`, where @c U is what @p f returns (or
   * the result type of the deferred it returns).
   * @throws std::logic_error before start.
   */
  template <class Function>
  auto then(Function f) const
  {
    return as_deferred().then(std::move(f));
  }
private:
  friend struct detail::coroutine_access;
  friend struct detail::wait_initiation;

  template <class OtherExecutor>
  void start_on(OtherExecutor ex) const
  {
    checked().start_posted(Executor(std::move(ex)));
  }

  using coro_state_type = detail::coroutine_state<T, Executor>;

  explicit coroutine(coro_state_type* adopted) noexcept : coro_(adopted) {}

  coro_state_type& checked() const
  {
    if (!coro_)
      throw std::logic_error("coflow: operation on an empty coroutine handle");
    return *coro_;
  }

  coro_state_type* coro_ = nullptr;
};

} // namespace coflow

#endif // COFLOW_COROUTINE_HPP
