//
// coflow/detail/spawn.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The machinery of spawn: the initiation of spawn with a token, the
// completion of a detached spawn, and the coroutine that keeps a spawned
// callable alive.
//

#ifndef COFLOW_DETAIL_SPAWN_HPP
#define COFLOW_DETAIL_SPAWN_HPP

#include <coflow/detail/coroutine_access.hpp>
#include <coflow/detail/deferred_waiter.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/execution_context.hpp>

#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

namespace coflow {

template <class T, class Executor>
class coroutine;

namespace detail {

template <class Executor, class ExecutorOrContext>
Executor executor_of(ExecutorOrContext& ex)
{
  if constexpr (std::is_convertible_v<ExecutorOrContext&,
                    boost::asio::execution_context&>)
    return Executor(ex.get_executor());
  else
    return Executor(ex);
}

template <class T, class Executor>
class initiate_spawn
{
public:
  explicit initiate_spawn(coroutine<T, Executor> c, Executor ex)
    : coroutine_(std::move(c)), executor_(std::move(ex))
  {
  }

  using executor_type = Executor;
  executor_type get_executor() const noexcept { return executor_; }

  template <class Handler>
  void operator()(Handler&& handler)
  {
    auto& t = coroutine_access::state_of(coroutine_);
    // The consumer is attached before the start is posted: on a
    // multi-threaded executor the body may run (and finish) at once.
    t.prepare_posted_start(executor_);
    using link = waiter_link<deferred_state<T, Executor>, std::decay_t<Handler>>;
    std::decay_t<Handler> h(std::forward<Handler>(handler));
    const auto& state = t.shared();
    state->append(link::create(std::move(h), state));
    t.post_start();
  }

private:
  coroutine<T, Executor> coroutine_;
  Executor executor_;
};

/// What spawn with asio::detached completes into: nobody else can see the
/// coroutine's error, so it goes to the unhandled-error handler (which
/// leaves out cancelled_error) instead of vanishing.
struct report_detached_error
{
  template <class... Values>
  void operator()(std::exception_ptr error, Values&&...) const noexcept
  {
    if (error)
      report_unhandled_error(std::move(error));
  }
};

template <class T>
struct is_coroutine : std::false_type
{
};

template <class T, class Executor>
struct is_coroutine<coroutine<T, Executor>> : std::true_type
{
};

/// A callable that spawn() keeps alive while the coroutine it returns runs:
/// invoked as an lvalue with no arguments, it returns a coroutine<T, E>. A
/// coroutine is not one (spawn takes it as it is).
template <class F>
concept coroutine_factory = !is_coroutine<std::remove_cvref_t<F>>::value
    && std::is_invocable_v<std::decay_t<F>&>
    && is_coroutine<std::invoke_result_t<std::decay_t<F>&>>::value;

template <class F>
using factory_result_t = std::invoke_result_t<std::decay_t<F>&>;

/// The coroutine that spawn() starts for a callable: @p f is a parameter, so
/// it lives in this frame until the coroutine that it returns has finished
/// (the body of a lambda reads its captures through the closure object). The
/// child runs inline, as a child does: pause and cancel of this coroutine
/// reach it, its result and error are this coroutine's.
template <class T, class Executor, class F>
coroutine<T, Executor> call_and_await(F f)
{
  // Named, not a temporary of the co_await: g++ 12 destroys a co_await
  // expression's temporaries twice when await_resume throws (a cancel).
  coroutine<T, Executor> c = std::invoke(f);
  if constexpr (std::is_void_v<T>)
    co_await std::move(c);
  else
    co_return co_await std::move(c);
}

template <class F>
auto make_call_and_await(F&& f)
{
  using result = factory_result_t<F>;
  return call_and_await<typename result::value_type, typename result::executor_type,
      std::decay_t<F>>(std::forward<F>(f));
}

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_SPAWN_HPP
