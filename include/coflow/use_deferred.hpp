//
// coflow/use_deferred.hpp
//
// use_deferred: the completion token that turns any Asio asynchronous
// operation into a coflow::deferred.
//

#ifndef COFLOW_USE_DEFERRED_HPP
#define COFLOW_USE_DEFERRED_HPP

#include <coflow/deferred.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

namespace coflow {

/// A completion token that makes an asynchronous operation return a deferred.
/**
 * `timer.async_wait(coflow::use_deferred)` starts the operation at once and
 * returns a `deferred<void>`; `sock.async_read_some(buf, coflow::use_deferred)`
 * a `deferred<std::size_t>`. The completion signature maps to the value type:
 *
 * | signature                      | deferred of            |
 * |--------------------------------|------------------------|
 * | `()`, `(error_code)`           | `void`                 |
 * | `(error_code, A)`, `(A)`       | `A`                    |
 * | `(error_code, A, B...)`        | `std::tuple<A, B...>`  |
 * | `(A, B...)`                    | `std::tuple<A, B...>`  |
 *
 * A leading `std::exception_ptr` is treated like an `error_code`. A failing
 * error code fails the deferred with @c boost::system::system_error.
 *
 * The deferred is bound to the operation's I/O executor (the initiation's
 * `get_executor()`, or the system executor for operations without one), and
 * the operation completes into it on that executor.
 *
 * `cancel()` on the unfired deferred emits @c cancellation_type::terminal on
 * the cancellation slot bound to the operation; the deferred then fails with
 * cancelled_error at once, and the operation's own completion, when it comes,
 * is ignored. The memory the operation uses (buffers) must stay valid until
 * the operation completes, as with any Asio operation.
 */
class use_deferred_t
{
public:
  /// Constructs the token.
  constexpr use_deferred_t() noexcept = default;

  /// Adapts an executor so that use_deferred is its default token.
  template <class InnerExecutor>
  struct executor_with_default : InnerExecutor
  {
    using default_completion_token_type = use_deferred_t;

    template <class InnerExecutor1>
      requires(!std::is_same_v<InnerExecutor1, executor_with_default>
          && std::is_convertible_v<InnerExecutor1, InnerExecutor>)
    executor_with_default(const InnerExecutor1& ex) noexcept
      : InnerExecutor(ex)
    {
    }
  };

  /// Type alias: an I/O object type with use_deferred as its default token.
  template <class T>
  using as_default_on_t = typename T::template rebind_executor<
      executor_with_default<typename T::executor_type>>::other;

  /// Returns @p object with use_deferred as its default completion token.
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

/// The completion token object. See use_deferred_t.
inline constexpr use_deferred_t use_deferred{};

} // namespace coflow

#include <coflow/impl/use_deferred.hpp>

#endif // COFLOW_USE_DEFERRED_HPP
