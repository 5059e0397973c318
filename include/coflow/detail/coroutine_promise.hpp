//
// coflow/detail/coroutine_promise.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The promise of coroutine<T, Executor>: where the frame lives, how the
// body's result is stored, and what a body can await (await_transform picks
// the awaiter of each kind; each lives in a header of its own).
//

#ifndef COFLOW_DETAIL_COROUTINE_PROMISE_HPP
#define COFLOW_DETAIL_COROUTINE_PROMISE_HPP

#include <coflow/detail/child_awaiter.hpp>
#include <coflow/detail/coroutine_access.hpp>
#include <coflow/detail/coroutine_operation.hpp>
#include <coflow/detail/coroutine_state.hpp>
#include <coflow/detail/deferred_awaiter.hpp>
#include <coflow/detail/frame_block.hpp>
#include <coflow/detail/operation_awaiter.hpp>
#include <coflow/detail/operation_launch.hpp>
#include <coflow/detail/tail_call_awaiter.hpp>
#include <coflow/deferred.hpp>
#include <coflow/this_coro.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>

#include <coroutine>
#include <exception>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace coflow {

template <class T, class Executor>
class coroutine;

template <class T, class Executor>
class deferred;

template <class Next>
class tail_call_t;

namespace detail {

template <class Executor>
struct ready_value
{
  Executor value;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  Executor await_resume() { return std::move(value); }
};

template <class T, class Derived>
class promise_return
{
public:
  template <class V = T>
    requires std::is_convertible_v<V&&, T>
  void return_value(V&& v)
  {
    static_cast<Derived*>(this)->owner()->set_value(T(std::forward<V>(v)));
  }
};

template <class Derived>
class promise_return<void, Derived>
{
public:
  void return_void() { static_cast<Derived*>(this)->owner()->set_value(void_value{}); }
};

template <class T, class Executor>
class coroutine_promise
  : public promise_return<T, coroutine_promise<T, Executor>>
{
public:
  using coro_state_type = coroutine_state<T, Executor>;

  // The frame shares one block with its coroutine state (see frame_block).
  static void* operator new(std::size_t size)
  {
    return frame_block::allocate_frame<coro_state_type>(size);
  }

  static void operator delete(void* frame, std::size_t) noexcept
  {
    frame_block::deallocate_frame<coro_state_type>(frame);
  }

  /// The compiler calls this from the coroutine's ramp with the defaults:
  /// they capture the coroutine function (see await_site.hpp).
  explicit coroutine_promise(
      function_site_tag = function_site_tag(), COFLOW_DETAIL_FUNCTION_SITE_PARAMETERS) noexcept
    : coro_(frame_block::claim<coro_state_type>(
          std::coroutine_handle<coroutine_promise>::from_promise(*this),
          COFLOW_DETAIL_FUNCTION_SITE))
  {
  }

  coroutine_promise(const coroutine_promise&) = delete;
  coroutine_promise& operator=(const coroutine_promise&) = delete;

  coroutine<T, Executor> get_return_object() noexcept
  {
    return coroutine_access::adopt(coro_);
  }

  std::suspend_always initial_suspend() const noexcept { return {}; }

  auto final_suspend() const noexcept
  {
    // The body never suspends at its end: the frame destroys itself as it
    // flows off, right after on_body_done() (which hands over the result
    // and resumes nothing in place: a parent waits nested, or the pump
    // runs it next).
    struct final_awaiter
    {
      coro_state_type* coro;
      [[gnu::always_inline]] bool await_ready() const noexcept
      {
        coro->on_body_done();
        return true;
      }
      void await_suspend(std::coroutine_handle<>) const noexcept {}
      void await_resume() const noexcept {}
    };
    return final_awaiter{coro_};
  }

  void unhandled_exception() noexcept { coro_->set_error(std::current_exception()); }

  coro_state_type* owner() const noexcept { return coro_; }

  /// A tail call made this frame the body of @p t.
  void rebind(coro_state_type* t) noexcept { coro_ = t; }

  // --- what a body can await -------------------------------------------------

  ready_value<Executor> await_transform(this_coro::executor_t) const
  {
    return {coro_->executor()};
  }

  template <class U, class E>
  [[gnu::always_inline]] child_awaiter<coro_state_type, U, E> await_transform(
      coroutine<U, E>&& child, await_site at = COFLOW_DETAIL_AWAIT_SITE) const
  {
    coro_->at_await(at);
    if (!child)
      throw std::logic_error("coflow: co_await of an empty coroutine handle");
    return {coro_, std::move(child)};
  }

  template <class U, class E>
  child_awaiter<coro_state_type, U, E> await_transform(
      const coroutine<U, E>& child, await_site at = COFLOW_DETAIL_AWAIT_SITE) const
  {
    return await_transform(coroutine<U, E>(child), at);
  }

  template <class U, class E>
  auto await_transform(
      tail_call_t<coroutine<U, E>> call, await_site at = COFLOW_DETAIL_AWAIT_SITE) const
  {
    coro_->at_await(at);
    static_assert(std::is_same_v<U, T>,
        "coflow::tail_call: the next state must be a coroutine of the same result "
        "type T as the coroutine that makes the tail call");
    static_assert(std::is_same_v<E, Executor>,
        "coflow::tail_call: the next state must be a coroutine of the same executor "
        "type as the coroutine that makes the tail call");
    if constexpr (std::is_same_v<U, T> && std::is_same_v<E, Executor>)
    {
      if (!call.next())
        throw std::logic_error("coflow: tail_call of an empty coroutine handle");
      return coroutine_tail_awaiter<T, Executor>(coro_, std::move(call.next()));
    }
    else
      return mismatched_tail_call<T>{}; // only the static_assert speaks
  }

  template <class U, class E>
  auto await_transform(
      tail_call_t<deferred<U, E>> call, await_site at = COFLOW_DETAIL_AWAIT_SITE) const
  {
    coro_->at_await(at);
    static_assert(std::is_same_v<U, T>,
        "coflow::tail_call: the deferred must produce the same result type T as the "
        "coroutine that makes the tail call");
    if constexpr (std::is_same_v<U, T>)
    {
      const auto& state = deferred_access::state(call.next());
      if (!state)
        throw std::logic_error("coflow: tail_call of an empty deferred handle");
      return deferred_tail_awaiter<T, Executor, E>(coro_, state);
    }
    else
      return mismatched_tail_call<T>{}; // only the static_assert speaks
  }

  template <class U, class E>
  deferred_awaiter<coro_state_type, U, E> await_transform(
      const deferred<U, E>& d, await_site at = COFLOW_DETAIL_AWAIT_SITE) const
  {
    coro_->at_await(at);
    const auto& state = deferred_access::state(d);
    if (!state)
      throw std::logic_error("coflow: co_await of an empty deferred handle");
    return {coro_, state};
  }

  template <class Signature, class Initiation, class... Args>
  auto await_transform(coroutine_operation<Signature, Initiation, Args...> op,
      await_site at = COFLOW_DETAIL_AWAIT_SITE) const
  {
    coro_->at_await(at);
    using launch = launch_operation<coroutine_operation<Signature, Initiation, Args...>>;
    return operation_awaiter<coro_state_type, Signature, launch>(coro_, launch{std::move(op)});
  }

  template <class Signature, class Initiation, class... Args>
  auto await_transform(boost::asio::deferred_async_operation<Signature, Initiation, Args...> op,
      await_site at = COFLOW_DETAIL_AWAIT_SITE) const
  {
    coro_->at_await(at);
    using launch = launch_operation<
        boost::asio::deferred_async_operation<Signature, Initiation, Args...>>;
    return operation_awaiter<coro_state_type, Signature, launch>(coro_, launch{std::move(op)});
  }

  template <class U, class E>
  auto await_transform(
      boost::asio::awaitable<U, E> a, await_site at = COFLOW_DETAIL_AWAIT_SITE) const
  {
    coro_->at_await(at);
    using launch = launch_awaitable<U, E>;
    return operation_awaiter<coro_state_type, typename wait_signature<U>::type, launch>(
        coro_, launch{std::move(a)});
  }

  /// A node of the library's own that builds its awaiter for the body's
  /// coroutine state (a combinator of DESIGN.md §7): `std::move(node).awaiter_for(coro)`
  /// returns a cascade_awaiter.
  template <class Node>
    requires requires(Node&& node, coro_state_type* t) { std::move(node).awaiter_for(t); }
  auto await_transform(Node&& node, await_site at = COFLOW_DETAIL_AWAIT_SITE) const
  {
    coro_->at_await(at);
    return std::move(node).awaiter_for(coro_);
  }

  // --- anything else: one static_assert ---------------------------------------

  /// What no overload above accepts converts to this, and the conversion
  /// holds the static_assert. A user-defined conversion ranks below the exact
  /// matches and standard conversions (derived-to-base included) of every
  /// overload above, so it never competes with them; only an overload that
  /// itself needs a user-defined conversion would tie with it.
  struct unsupported_await
  {
    template <class>
    static constexpr bool awaitable = false;

    template <class Awaited>
    unsupported_await(Awaited&&) noexcept
    {
      static_assert(awaitable<Awaited>,
          "coflow: a coroutine body cannot co_await this. It can await: "
          "coflow::coroutine<T>, coflow::deferred<T>, an Asio operation whose "
          "completion token is coflow::use_coroutine (or asio::deferred, or an "
          "Asio adapter such as asio::redirect_error around coflow::use_coroutine), "
          "asio::awaitable<T>, coflow::tail_call(next) (in co_return co_await), and "
          "coflow::this_coro::executor. Write coflow::this_coro::executor, not "
          "asio::this_coro::executor; give an Asio operation coflow::use_coroutine "
          "as its token, not asio::use_future, a callback or asio::detached.");
    }
  };

  /// The awaiter of what cannot be awaited: its result converts to anything,
  /// so that the static_assert is the only error.
  struct unsupported_awaiter
  {
    struct any_result
    {
      template <class R>
      operator R() const
      {
        std::terminate(); // never runs: the program does not compile
      }
    };

    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    any_result await_resume() const noexcept { return {}; }
  };

  unsupported_awaiter await_transform(unsupported_await) const { return {}; }

private:
  coro_state_type* coro_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_COROUTINE_PROMISE_HPP

