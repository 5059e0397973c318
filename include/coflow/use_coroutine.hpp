//
// coflow/use_coroutine.hpp
//
// use_coroutine: the completion token for Asio operations awaited inside
// coflow coroutine bodies, as use_awaitable is for asio::awaitable.
//

#ifndef COFLOW_USE_COROUTINE_HPP
#define COFLOW_USE_COROUTINE_HPP

#include <boost/asio/async_result.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace coflow {

/// A completion token that makes an operation awaitable in a coroutine body.
/**
 * `co_await timer.async_wait(coflow::use_coroutine)` initiates the operation
 * when awaited, with the coroutine's executor and a cancellation slot of the
 * awaiting coroutine bound to it; it allocates nothing beyond what the
 * operation itself needs. The result maps as for use_deferred: a failing
 * error code is thrown as @c boost::system::system_error, the value is
 * returned (nothing, one value, or a tuple).
 *
 * Cascade: while the coroutine is paused, a completion is held in full until
 * the last unpause; a cancel emits @c cancellation_type::terminal on the
 * operation's slot, and the body resumes with cancelled_error once the
 * operation has completed (its buffers stay valid until then).
 *
 * Only a coflow coroutine body can await the returned operation object.
 */
class use_coroutine_t
{
public:
  constexpr use_coroutine_t() noexcept = default;

  /// Adapts an executor so that use_coroutine is its default token.
  template <class InnerExecutor>
  struct executor_with_default : InnerExecutor
  {
    using default_completion_token_type = use_coroutine_t;

    template <class InnerExecutor1>
      requires(!std::is_same_v<InnerExecutor1, executor_with_default>
          && std::is_convertible_v<InnerExecutor1, InnerExecutor>)
    executor_with_default(const InnerExecutor1& ex) noexcept
      : InnerExecutor(ex)
    {
    }
  };

  /// Type alias: an I/O object type with use_coroutine as its default token.
  template <class T>
  using as_default_on_t = typename T::template rebind_executor<
      executor_with_default<typename T::executor_type>>::other;

  /// Returns @p object with use_coroutine as its default completion token.
  template <class T>
  static typename std::decay_t<T>::template rebind_executor<
      executor_with_default<typename std::decay_t<T>::executor_type>>::other
  as_default_on(T&& object)
  {
    return typename std::decay_t<T>::template rebind_executor<
        executor_with_default<typename std::decay_t<T>::executor_type>>::other(
        std::forward<T>(object));
  }
};

/// The completion token object. See use_coroutine_t.
inline constexpr use_coroutine_t use_coroutine{};

namespace detail {

/// An operation not yet initiated: what use_coroutine returns. Awaiting it
/// in a body initiates it with a handler that resumes the body.
template <class Signature, class Initiation, class... Args>
class [[nodiscard]] coroutine_operation
{
public:
  using signature = Signature;

  coroutine_operation(Initiation init, Args... args)
    : initiation_(std::move(init)), args_(std::move(args)...)
  {
  }

  template <class Handler>
  void launch(Handler&& handler) &&
  {
    std::apply(
        [&](Args&... args) {
          std::move(initiation_)(std::forward<Handler>(handler), std::move(args)...);
        },
        args_);
  }

private:
  Initiation initiation_;
  std::tuple<Args...> args_;
};

} // namespace detail
} // namespace coflow

namespace boost {
namespace asio {

template <typename R, typename... Args>
class async_result<coflow::use_coroutine_t, R(Args...)>
{
public:
  template <class Initiation, class RawToken, class... InitArgs>
  static auto initiate(Initiation&& initiation, RawToken&&, InitArgs&&... args)
  {
    return coflow::detail::coroutine_operation<R(Args...),
        std::decay_t<Initiation>, std::decay_t<InitArgs>...>(
        std::forward<Initiation>(initiation), std::forward<InitArgs>(args)...);
  }
};

} // namespace asio
} // namespace boost

#endif // COFLOW_USE_COROUTINE_HPP
