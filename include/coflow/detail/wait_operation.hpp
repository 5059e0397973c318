//
// coflow/detail/wait_operation.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// coroutine<T> and deferred<T> as Asio asynchronous operations (DESIGN.md
// §9): `x(token)` waits for x's result through any completion token, and an
// unstarted coroutine is first spawned on the token's associated executor.
// So `co_await x` works inside asio::awaitable, whose await_transform takes
// any asynchronous operation, and x goes into make_parallel_group.
//
// Boost 1.81's Asio cannot await an operation of signature
// `void(std::exception_ptr, T)` directly: its awaitable_async_op_handler for
// that signature dereferences its result struct (`*result`) instead of the
// exception pointer, and does not compile. Later versions fixed it. For 1.81
// coflow's operations announce `wait_completion(std::exception_ptr, T)`: the
// same arguments, a return type of coflow's own (Asio's tokens and handlers
// accept any return type, handlers' results are ignored), for which this
// header supplies the handler that Asio's await needs. Every other
// operation keeps Asio's own handler: the fix is scoped to coflow's
// operations.
//

#ifndef COFLOW_DETAIL_WAIT_OPERATION_HPP
#define COFLOW_DETAIL_WAIT_OPERATION_HPP

#include <coflow/detail/coroutine_access.hpp>
#include <coflow/detail/deferred_traits.hpp>
#include <coflow/detail/handler_sink.hpp>
#include <coflow/detail/outcome.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/version.hpp>

#include <exception>
#include <stdexcept>
#include <type_traits>
#include <utility>

#if BOOST_ASIO_VERSION == 102600 // Boost 1.81
#define COFLOW_ASIO_AWAIT_OPERATION_WORKAROUND 1
#endif

namespace boost {
namespace asio {
namespace detail {

// use_future's handler executor (declared, so as not to include <future>).
template <typename T, typename Blocking>
class promise_executor;

} // namespace detail
} // namespace asio
} // namespace boost

namespace coflow {
namespace detail {

#if defined(COFLOW_ASIO_AWAIT_OPERATION_WORKAROUND)

/// The return type of the completion signature of coflow's operations (see
/// the file comment): nothing is ever returned.
struct wait_completion
{
};

template <class T>
struct wait_operation_signature
{
  using type = wait_completion(std::exception_ptr, T);
};

template <>
struct wait_operation_signature<void>
{
  using type = wait_completion(std::exception_ptr); // Asio's handler is right
};

#else

template <class T>
struct wait_operation_signature : wait_signature<T>
{
};

#endif

/// Whether an executor runs work on Asio's system context (a handler's
/// default executor): told from the type, without touching the context.
template <class Executor>
struct runs_on_system : std::false_type
{
};

template <class Blocking, class Relationship, class Allocator>
struct runs_on_system<boost::asio::basic_system_executor<Blocking, Relationship, Allocator>>
  : std::true_type
{
};

template <class T, class Blocking>
struct runs_on_system<boost::asio::detail::promise_executor<T, Blocking>> : std::true_type
{
};

/// The initiation of `x(token)`: waits on x, after spawning an unstarted
/// coroutine on the handler's associated executor. A coroutine started here
/// delivers straight to the handler (handler_sink: no shared state, and a
/// slot's cancel safe from any thread) when its value can be copied (other
/// handles may still read it); otherwise, and for a started coroutine or a
/// deferred, the handler waits on the shared state (async_wait).
struct wait_initiation
{
  template <class Handler, class Waitable>
  void operator()(Handler&& handler, Waitable x) const
  {
    if constexpr (requires { x.started(); })
    {
      if (!x.started())
      {
        // Asio's default (the system executor, or use_future's, which runs
        // on it) has no context to run a coroutine on.
        auto ex = boost::asio::get_associated_executor(handler);
        if constexpr (runs_on_system<decltype(ex)>::value)
          throw std::logic_error("coflow: an unstarted coroutine awaited through a token "
                                 "without an associated executor: spawn it first");
        else if constexpr (copyable_v<
                               value_of<typename Waitable::value_type>>)
        {
          using executor = typename Waitable::executor_type;
          auto& state = coroutine_access::state_of(x);
          state.prepare_posted_start(executor(std::move(ex)));
          handler_sink<typename Waitable::value_type, executor, std::decay_t<Handler>>::attach(
              x, std::decay_t<Handler>(std::forward<Handler>(handler)));
          state.post_start();
          return;
        }
        else
          x.start_on(std::move(ex));
      }
    }
    x.async_wait(std::forward<Handler>(handler));
  }
};

} // namespace detail
} // namespace coflow

#if defined(COFLOW_ASIO_AWAIT_OPERATION_WORKAROUND)

namespace boost {
namespace asio {
namespace detail {

/// `co_await x` of a coflow operation in an asio::awaitable: resumes the
/// awaitable with the value, or throws the exception (see the file comment).
template <class T, class Executor>
class awaitable_async_op_handler<coflow::detail::wait_completion(std::exception_ptr, T), Executor>
  : public awaitable_thread<Executor>
{
public:
  struct result_type
  {
    std::exception_ptr* error;
    T* value;
  };

  awaitable_async_op_handler(awaitable_thread<Executor>* h, result_type& result)
    : awaitable_thread<Executor>(std::move(*h)), result_(result)
  {
  }

  void operator()(std::exception_ptr error, T value)
  {
    // Both live on this stack until the awaitable has taken them: pump()
    // resumes it here.
    result_.error = &error;
    result_.value = &value;
    this->entry_point()->top_of_stack_->attach_thread(this);
    this->entry_point()->top_of_stack_->clear_cancellation_slot();
    this->pump();
  }

  static T resume(result_type& result)
  {
    if (*result.error)
      std::rethrow_exception(std::exchange(*result.error, nullptr));
    return std::move(*result.value);
  }

private:
  result_type& result_;
};

} // namespace detail
} // namespace asio
} // namespace boost

#endif

#endif // COFLOW_DETAIL_WAIT_OPERATION_HPP
