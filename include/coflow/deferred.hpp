//
// coflow/deferred.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// deferred<T, Executor>: Twisted's Deferred for Asio. A one-shot result that
// many parties may hold, with a callback chain, a canceller and a counted
// pause, awaitable through any Asio completion token.
//
// Example (asio is boost::asio):
//
// @code
// asio::io_context io;
// coflow::deferred<int> d(io);
// d.add_callback([](int v) { return v * 2; });          // the callback chain
// d.add_errback([](std::exception_ptr) { return -1; });  // recovers from errors
// int got = 0;
// d.async_wait([&](std::exception_ptr, int v) { got = v; });  // or any Asio token
// d.callback(21);        // fires it, once; the consumer runs through io
// io.run();              // got == 42
// @endcode
//

/// @file
/// deferred<T, Executor>: Twisted's Deferred for Asio. A one-shot result that
/// many parties may hold, with a callback chain, a canceller and a counted
/// pause, awaitable through any Asio completion token.
///
/// The source of this header opens with an example.

#ifndef COFLOW_DEFERRED_HPP
#define COFLOW_DEFERRED_HPP

#include <coflow/detail/deferred_state.hpp>
#include <coflow/detail/deferred_traits.hpp>
#include <coflow/detail/wait_operation.hpp>
#include <coflow/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution_context.hpp>

#include <concepts>
#include <exception>
#include <memory>
#include <type_traits>

namespace coflow {

template <class T, class Executor>
class deferred;

namespace detail {

struct deferred_access;

template <class T, class Executor>
class initiate_wait;

template <class State, class T, class Executor, class Canceller>
class function_canceller;

} // namespace detail

/// A one-shot result with a callback chain, a canceller and a pause count.
/**
 * A @c deferred is a copyable handle to shared state bound to an executor.
 * A producer fires it once, with `callback(value)` or `errback(error)`; any
 * number of parties consume the result, through the callback chain (run
 * synchronously, as Twisted runs it) or through `async_wait(token)` with any
 * Asio completion token (resumed through the executor, never inside the call
 * that fired the deferred).
 *
 * @par The callback chain
 * Callbacks, errbacks and waiting consumers form one chain, run in the order
 * they were added. A callback receives the current value and returns the new
 * one; an errback receives the current error and returns a value to recover,
 * or throws to stay on the error path. Either may return another deferred of
 * the same `T`: the chain then waits for it ("chaining"). Returning a
 * deferred that waits, directly or not, on this one would close a cycle: the
 * chain takes the error path with @c std::logic_error instead. A consumer
 * receives the result as it stands at its place in the chain, and leaves it
 * unchanged.
 *
 * @par Depth
 * Chaining, then() targets, cancel forwarding and the destruction of states
 * that hold each other run in loops, not recursions: a million deferreds
 * chained on each other need no more stack than one.
 *
 * @par Pause
 * `pause()` and `unpause()` are counted. While the count is above zero a
 * result that arrives is held, and the chain does not run; the last
 * `unpause()` runs it. Pausing never stops the producer.
 *
 * @par Cancel
 * `cancel()` on an unfired deferred calls the canceller; if the deferred is
 * still unfired afterwards, it fails with cancelled_error, even while paused.
 * The producer's next `callback()` or `errback()` is then ignored. A
 * deferred of an operation still in flight (use_deferred), and an unfired
 * then() deferred of one, fail so once the operation has completed, not
 * before. `cancel()` on a fired deferred does nothing, except that a chain
 * waiting on an inner deferred forwards the cancel to it; a result already
 * produced is never dropped.
 *
 * @par Unhandled errors
 * An error that ends the chain and reached no consumer and no errback is
 * passed to the unhandled-error handler when the last handle goes away
 * (see set_unhandled_error_handler()), except a cancelled_error.
 *
 * @par Thread safety
 * Distinct objects: safe. Shared objects: unsafe; use a deferred (and fire
 * it) from its executor, as an Asio I/O object. Handles may be copied and
 * destroyed on any thread.
 *
 * Every operation on an empty handle (default-constructed or moved-from)
 * throws @c std::logic_error.
 *
 * @tparam T The result type; @c void for a result that carries no value.
 * @tparam Executor The executor through which consumers are resumed.
 */
template <class T = void, class Executor = boost::asio::any_io_executor>
class deferred
{
public:
  /// The type of the value that the deferred produces.
  using value_type = T;

  /// The type of the executor associated with the deferred.
  using executor_type = Executor;

  /// The completion signature of async_wait():
  /// `void(std::exception_ptr, T)`, or `void(std::exception_ptr)` for void.
  using wait_signature = typename detail::wait_signature<T>::type;

  /// Rebinds the deferred to another executor type.
  /// @tparam OtherExecutor The executor type of the rebound deferred.
  template <class OtherExecutor>
  struct rebind_executor
  {
    /// `deferred<T, OtherExecutor>`.
    using other = deferred<T, OtherExecutor>;
  };

  /// Constructs an empty handle.
  deferred() noexcept = default;

  /// Constructs an unfired deferred bound to @p ex.
  /// @param ex The executor through which its consumers are resumed.
  explicit deferred(const executor_type& ex);

  /// Constructs an unfired deferred bound to @p ex, with a canceller.
  /**
   * @param ex The executor through which its consumers are resumed.
   * @param canceller Called as `canceller(d)` with a handle `d` to this
   * deferred, inside the cancel() of an unfired deferred. It may fire `d`;
   * if it does not, the deferred fails with cancelled_error. An exception
   * that it throws goes to the unhandled-error handler, and the deferred is
   * cancelled all the same.
   */
  template <class Canceller>
    requires std::invocable<Canceller&, deferred&>
  deferred(const executor_type& ex, Canceller canceller)
    : deferred(ex)
  {
    state_->set_canceller(std::make_unique<detail::function_canceller<
        state_type, T, Executor, Canceller>>(std::move(canceller)));
  }

  /// Constructs an unfired deferred bound to the executor of @p context.
  /// @param context An execution context (an `io_context`, a `thread_pool`).
  template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&,
        boost::asio::execution_context&>
  explicit deferred(ExecutionContext& context)
    : deferred(executor_type(context.get_executor()))
  {
  }

  /// Constructs an unfired deferred bound to the executor of @p context,
  /// with a canceller.
  /// @param context An execution context (an `io_context`, a `thread_pool`).
  /// @param canceller As for deferred(const executor_type&, Canceller).
  template <class ExecutionContext, class Canceller>
    requires std::is_convertible_v<ExecutionContext&,
        boost::asio::execution_context&>
      && std::invocable<Canceller&, deferred&>
  deferred(ExecutionContext& context, Canceller canceller)
    : deferred(executor_type(context.get_executor()), std::move(canceller))
  {
  }

  /// Whether this handle refers to a deferred.
  /// @returns false for an empty handle (default-constructed or moved-from).
  explicit operator bool() const noexcept { return state_ != nullptr; }

  /// Whether two handles refer to the same deferred.
  /// @param a A handle.
  /// @param b Another handle.
  /// @returns true if both refer to the same deferred, or both are empty.
  friend bool operator==(const deferred& a, const deferred& b) noexcept
  {
    return a.state_ == b.state_;
  }

  /// The executor through which consumers are resumed.
  /// @returns the executor the deferred was constructed with (for a
  /// use_deferred deferred: the operation's I/O executor).
  executor_type get_executor() const;

  /// Fires the deferred with @p value and runs the callback chain.
  /**
   * The chain runs synchronously inside this call, on the calling thread;
   * waiting consumers are resumed later, through the executor. An exception
   * that a callback throws does not leave this call: it becomes the chain's
   * error. While the deferred is paused, the value is held and nothing runs.
   *
   * @param value The result.
   * @throws already_called_error if the deferred was already fired (the first
   * call after a cancel() is ignored instead).
   * @throws std::logic_error, with nothing changed, if this is a coroutine's
   * deferred (its body alone produces the result).
   */
  void callback(detail::value_of<T> value) const
    requires(!std::is_void_v<T>);

  /// Fires a deferred<void> and runs the callback chain.
  /// As callback(value), without a value.
  /// @throws already_called_error and @c std::logic_error as callback(value).
  void callback() const
    requires std::is_void_v<T>;

  /// Fails the deferred with @p error and runs the callback chain.
  /**
   * As callback(value), on the error path.
   * @param error The error; not null.
   * @throws already_called_error and @c std::logic_error as callback();
   * @c std::invalid_argument if @p error is null.
   */
  void errback(std::exception_ptr error) const;

  /// Whether the deferred has been fired (or failed by a cancel).
  /// @returns true once a result exists, also while a pause holds it.
  bool called() const;

  /// Adds a callback and an errback at the same place in the chain.
  /**
   * On a value, `callback(std::move(value))` runs (for void: `callback()`);
   * on an error, `errback(error)`. Each returns the new result: a @c T (for
   * void: nothing), or a deferred of the same @c T, which the chain then
   * waits for. An exception thrown by either becomes the new error, and so
   * does a @c std::logic_error for a returned deferred that is empty, is
   * this one, or waits on this one (a cycle).
   *
   * If the chain can run now (the deferred is fired and not paused), it runs
   * inside this call; otherwise it runs inside the call that fires the
   * deferred (or an inner deferred that the chain waits on), or the last
   * unpause().
   *
   * @param callback Called with the value; returns the new result.
   * @param errback Called with the error (a @c std::exception_ptr); returns
   * a value to recover, or throws to stay on the error path.
   * @returns `*this`.
   */
  template <class Callback, class Errback>
  const deferred& add_callbacks(Callback callback, Errback errback) const;

  /// Adds a callback; errors pass by it unchanged.
  /// As add_callbacks() without an errback.
  /// @param callback Called with the value; returns the new result.
  /// @returns `*this`.
  template <class Callback>
  const deferred& add_callback(Callback callback) const;

  /// Adds an errback; values pass by it unchanged.
  /// As add_callbacks() without a callback.
  /// @param errback Called with the error; returns a value to recover, or
  /// throws to stay on the error path.
  /// @returns `*this`.
  template <class Errback>
  const deferred& add_errback(Errback errback) const;

  /// Adds @p f as both callback and errback (Twisted's addBoth).
  /**
   * @param f Callable with the value (nothing for void) and with a
   * @c std::exception_ptr; a generic lambda does both. Copied: one copy for
   * each half.
   * @returns `*this`.
   */
  template <class Function>
  const deferred& add_both(Function f) const;

  /// A new deferred of @p f's result type, fired from this one.
  /**
   * Adds a link to the chain that calls `f(const T&)` (`f()` for void) on a
   * value, and fires the returned deferred with its result (or with the
   * result of the deferred that @p f returns); an error passes to the
   * returned deferred unchanged. This deferred's result is not changed.
   * Cancelling the returned deferred, while it is unfired, cancels this one.
   * If @p f returns a deferred that waits on the returned one (a cycle), the
   * returned deferred fails with @c std::logic_error.
   *
   * @param f Called with the value; returns a @c U, or a `deferred<U>`.
   * @returns a `deferred<U, Executor>` bound to this deferred's executor.
   */
  template <class Function>
  auto then(Function f) const;

  /// Pauses the chain: results that arrive are held until the last unpause().
  /**
   * Counted: each pause() needs one unpause(). The producer is not stopped,
   * and nothing is forwarded: a deferred that the chain waits on is not
   * paused. A cancel overrides the pause for the failure it causes (see
   * cancel()); a result produced before stays held.
   */
  void pause() const;

  /// Undoes one pause(); the last one runs the chain with the held result.
  /**
   * The chain runs inside this call; consumers are resumed later, through
   * the executor.
   * @throws std::logic_error without a matching pause(); nothing changes.
   */
  void unpause() const;

  /// The number of pause() calls not yet balanced by unpause().
  /// @returns the count; 0 if the deferred is not paused.
  unsigned pause_count() const;

  /// Cancels the deferred.
  /**
   * Unfired: calls the canceller, then fails with cancelled_error unless the
   * canceller fired it. This failure is delivered even while paused. For a
   * use_deferred deferred whose operation is in flight (and an unfired
   * then() deferred of one) the failure comes when the operation completes:
   * until then the deferred is not called(). Fired: no effect, except that
   * a chain waiting on an inner deferred forwards the cancel to it.
   * Idempotent. Consumers are never resumed inside this call.
   */
  void cancel() const;

  /// Waits for the result with any Asio completion token.
  /**
   * The completion handler receives `(std::exception_ptr, T)` (or
   * `(std::exception_ptr)` for void) as the result stands at this place in
   * the chain: the error, or a null pointer and the value. It is invoked
   * through the deferred's executor (and the handler's associated executor),
   * never inside the call that fires the deferred. A value is copied for each
   * consumer; a consumer whose copy throws receives that exception as its
   * error. @c T must be default-constructible for this signature.
   *
   * If the handler's associated cancellation slot emits @c terminal,
   * @c partial or @c total, the deferred is cancelled, for all consumers.
   *
   * Waiting does not count as outstanding work of the executor: like an
   * unfired Twisted Deferred, an unfired deferred does not keep a
   * @c run() going. Destroying the execution context destroys waiting
   * handlers without invoking them.
   *
   * @param token The completion token, for the signature wait_signature.
   * @returns what the token makes of the operation (nothing for a callback,
   * a `std::future` for `asio::use_future`, ...).
   */
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(wait_signature) WaitToken =
                boost::asio::default_completion_token_t<executor_type>>
  auto async_wait(WaitToken&& token =
                      boost::asio::default_completion_token_t<executor_type>()) const
  {
    static_assert(std::is_void_v<T> || std::is_default_constructible_v<T>,
        "coflow: async_wait's signature void(std::exception_ptr, T) needs a "
        "default-constructible T (as co_spawn's does)");
    return boost::asio::async_initiate<WaitToken, wait_signature>(
        detail::initiate_wait<T, Executor>(checked_state()), token);
  }

  /// The deferred as an Asio asynchronous operation (DESIGN.md §9): waits
  /// for its result through @p token, as async_wait() does.
  /**
   * So an `asio::awaitable` writes `T v = co_await std::move(d);`, and a
   * deferred goes into `asio::experimental::make_parallel_group`. The
   * completion signature has the arguments of `wait_signature`; a
   * cancellation slot bound to the token cancels the deferred.
   * @param token The completion token.
   * @returns what the token makes of the operation.
   */
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(
      typename detail::wait_operation_signature<T>::type) CompletionToken>
  auto operator()(CompletionToken&& token) const
  {
    return boost::asio::async_initiate<CompletionToken,
        typename detail::wait_operation_signature<T>::type>(
        detail::wait_initiation{}, token, *this);
  }
private:
  friend struct detail::deferred_access;
  using state_type = detail::deferred_state<T, Executor>;

  explicit deferred(std::shared_ptr<state_type> state) noexcept
    : state_(std::move(state))
  {
  }

  /// The state, kept alive for the duration of a call that may run the
  /// chain (a callback may release this very handle).
  std::shared_ptr<state_type> checked_state() const;

  std::shared_ptr<state_type> state_;
};

} // namespace coflow

#include <coflow/impl/deferred.hpp>

#endif // COFLOW_DEFERRED_HPP
