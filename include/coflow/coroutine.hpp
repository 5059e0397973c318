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

/// A coroutine whose pause, unpause and cancel cascade.
/**
 * Calling a coroutine function creates its frame and returns an unstarted
 * coroutine. It starts when a coflow coroutine awaits it (as a child, inline,
 * on the awaiter's executor) or when spawn() starts it (posted).
 *
 * @par Flow control
 * `pause()` / `unpause()` are counted. While paused, the body is not
 * resumed: a result that its awaited operation produces is held in full until
 * the last `unpause()`; the pause is forwarded to exactly what the body awaits
 * (a child coroutine, a deferred), and the last unpause releases exactly that.
 * `cancel()` forwards the cancel to what the body awaits (innermost first),
 * then resumes the body with cancelled_error at its suspension point; every
 * later `co_await` throws cancelled_error at once, and the result is
 * cancelled_error whatever the body does. Neither `unpause()` nor `cancel()`
 * runs coroutine code inside the call.
 *
 * @par Consumers
 * Every deferred operation except firing: `async_wait(token)`, the callback
 * chain, `then()`, and conversion to `deferred<T, Executor>` (a cancel of that
 * deferred cancels the coroutine). These need a started coroutine (its
 * executor): on an unstarted one they throw @c std::logic_error.
 *
 * Dropping every handle does not stop a started coroutine.
 */
template <class T = void, class Executor = boost::asio::any_io_executor>
class [[nodiscard]] coroutine
{
public:
  using promise_type = detail::coroutine_promise<T, Executor>;
  using value_type = T;
  using executor_type = Executor;
  using wait_signature = typename detail::wait_signature<T>::type;

  /// An empty handle.
  coroutine() noexcept = default;

  coroutine(const coroutine& other) noexcept : coro_(other.coro_)
  {
    if (coro_)
      coro_->add_ref();
  }

  coroutine(coroutine&& other) noexcept : coro_(std::exchange(other.coro_, nullptr)) {}

  coroutine& operator=(coroutine other) noexcept
  {
    std::swap(coro_, other.coro_);
    return *this;
  }

  ~coroutine()
  {
    if (coro_ && coro_->release_last())
      coro_->destroy(); // typed: no virtual call
  }

  explicit operator bool() const noexcept { return coro_ != nullptr; }

  friend bool operator==(const coroutine& a, const coroutine& b) noexcept
  {
    return a.coro_ == b.coro_;
  }

  /// Whether the coroutine has started (spawned, or awaited as a child).
  bool started() const { return checked().started(); }

  /// Whether the coroutine has produced its result (delivered, or held by
  /// a pause).
  bool called() const { return checked().produced(); }

  /// The executor the body runs on. @throws std::logic_error before start.
  executor_type get_executor() const { return checked().checked_executor(); }

  /// Pauses the coroutine and, once, what it awaits.
  void pause() const { checked().pause(); }

  /// Undoes one pause(). @throws std::logic_error without a matching pause().
  void unpause() const { checked().unpause(); }

  /// The number of unbalanced pause() calls.
  unsigned pause_count() const { return checked().pause_count(); }

  /// Cancels the coroutine, innermost first. Idempotent; no effect once
  /// finished.
  void cancel() const { checked().cancel(); }

  /// This coroutine as a deferred (the same result; its cancel() cancels
  /// the coroutine). @throws std::logic_error before start.
  deferred<T, Executor> as_deferred() const
  {
    return detail::deferred_access::make<T, Executor>(checked().shared());
  }

  /// See as_deferred().
  operator deferred<T, Executor>() const { return as_deferred(); }

  /// See deferred::async_wait.
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
   */
  template <BOOST_ASIO_COMPLETION_TOKEN_FOR(
      typename detail::wait_operation_signature<T>::type) CompletionToken>
  auto operator()(CompletionToken&& token) const
  {
    return boost::asio::async_initiate<CompletionToken,
        typename detail::wait_operation_signature<T>::type>(
        detail::wait_initiation{}, token, *this);
  }

  /// See deferred::add_callbacks.
  template <class Callback, class Errback>
  const coroutine& add_callbacks(Callback cb, Errback eb) const
  {
    as_deferred().add_callbacks(std::move(cb), std::move(eb));
    return *this;
  }

  /// See deferred::add_callback.
  template <class Callback>
  const coroutine& add_callback(Callback cb) const
  {
    as_deferred().add_callback(std::move(cb));
    return *this;
  }

  /// See deferred::add_errback.
  template <class Errback>
  const coroutine& add_errback(Errback eb) const
  {
    as_deferred().add_errback(std::move(eb));
    return *this;
  }

  /// See deferred::add_both.
  template <class Function>
  const coroutine& add_both(Function f) const
  {
    as_deferred().add_both(std::move(f));
    return *this;
  }

  /// See deferred::then.
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
