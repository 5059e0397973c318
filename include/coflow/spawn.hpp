//
// coflow/spawn.hpp
//
// spawn: starts a coroutine on an executor, as co_spawn starts an awaitable.
//

#ifndef COFLOW_SPAWN_HPP
#define COFLOW_SPAWN_HPP

#include <coflow/coroutine.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/execution_context.hpp>

#include <type_traits>
#include <utility>

namespace coflow {
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
    auto& t = coroutine_access::task_of(coroutine_);
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

} // namespace detail

/// Starts @p c on @p ex (an executor or an execution context).
/**
 * The start is posted, as co_spawn's: the body never runs inside this call.
 * The returned handle refers to the started coroutine.
 *
 * @throws std::logic_error if @p c is empty or has already started.
 */
template <class ExecutorOrContext, class T, class Executor>
coroutine<T, Executor> spawn(ExecutorOrContext&& ex, coroutine<T, Executor> c)
{
  auto& t = detail::coroutine_access::task_of(c);
  t.start_posted(detail::executor_of<Executor>(ex));
  return c;
}

/// Starts @p c on @p ex and completes through @p token with
/// `void(std::exception_ptr, T)` (`void(std::exception_ptr)` for void), like
/// co_spawn. The start happens when the operation is initiated. A
/// cancellation slot bound to the token cancels the coroutine.
template <class ExecutorOrContext, class T, class Executor,
    BOOST_ASIO_COMPLETION_TOKEN_FOR(typename detail::wait_signature<T>::type) Token>
auto spawn(ExecutorOrContext&& ex, coroutine<T, Executor> c, Token&& token)
{
  if (!c)
    throw std::logic_error("coflow: spawn of an empty coroutine handle");
  if (c.started())
    throw std::logic_error("coflow: the coroutine has already started");
  return boost::asio::async_initiate<Token, typename detail::wait_signature<T>::type>(
      detail::initiate_spawn<T, Executor>(std::move(c), detail::executor_of<Executor>(ex)),
      token);
}

} // namespace coflow

#endif // COFLOW_SPAWN_HPP
