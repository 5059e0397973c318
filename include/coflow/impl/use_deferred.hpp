//
// coflow/impl/use_deferred.hpp
//
// async_result for use_deferred_t: the operation's handler fires the shared
// state of the returned deferred; the state's canceller emits on the
// operation's slot.
//

#ifndef COFLOW_IMPL_USE_DEFERRED_HPP
#define COFLOW_IMPL_USE_DEFERRED_HPP

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <memory>
#include <tuple>
#include <type_traits>

namespace coflow {
namespace detail {

/// The value type of the deferred for the completion arguments Args.
template <class... Args>
struct operation_value;

template <>
struct operation_value<>
{
  using type = void;
};

template <class A>
struct operation_value<A>
{
  using type = A;
};

template <class A, class B, class... Rest>
struct operation_value<A, B, Rest...>
{
  using type = std::tuple<A, B, Rest...>;
};

template <class A>
inline constexpr bool is_error_argument =
    std::is_same_v<A, boost::system::error_code>
    || std::is_same_v<A, std::exception_ptr>;

template <class... Args>
struct operation_signature
{
  using value = typename operation_value<Args...>::type;
};

template <class First, class... Rest>
  requires is_error_argument<First>
struct operation_signature<First, Rest...>
{
  using value = typename operation_value<Rest...>::type;
};

/// Builds the outcome of an operation that succeeded with @p args.
template <class T, class... Args>
outcome<T> operation_success(Args&&... args)
{
  if constexpr (sizeof...(Args) == 0)
    return outcome<T>(std::in_place_index<0>);
  else if constexpr (sizeof...(Args) == 1)
    return outcome<T>(std::in_place_index<0>, std::forward<Args>(args)...);
  else
    return outcome<T>(std::in_place_index<0>, T(std::forward<Args>(args)...));
}

/// Holds the signal whose slot the operation's handler exposes; cancel()
/// emits terminal on it. It lives in the shared state, which the handler
/// keeps alive: the slot stays valid for as long as the operation may use it.
template <class State>
class operation_canceller final : public canceller_base<State>
{
public:
  void cancel(State&) override
  {
    signal_.emit(boost::asio::cancellation_type::terminal);
  }

  boost::asio::cancellation_slot slot() noexcept { return signal_.slot(); }

private:
  boost::asio::cancellation_signal signal_;
};

template <class T, class... Args>
class deferred_operation_handler
{
public:
  using state_type = deferred_state<T, boost::asio::any_io_executor>;
  using cancellation_slot_type = boost::asio::cancellation_slot;

  deferred_operation_handler(std::shared_ptr<state_type> state,
      boost::asio::cancellation_slot slot) noexcept
    : state_(std::move(state)), slot_(slot)
  {
  }

  cancellation_slot_type get_cancellation_slot() const noexcept { return slot_; }

  template <class... CallArgs>
  void operator()(CallArgs&&... args)
  {
    complete(std::forward<CallArgs>(args)...);
  }

private:
  template <class First, class... Rest>
    requires is_error_argument<std::decay_t<First>>
  void complete(First&& error, Rest&&... rest)
  {
    if constexpr (std::is_same_v<std::decay_t<First>, std::exception_ptr>)
    {
      if (error)
        return settle(outcome<T>(std::in_place_index<1>, error));
    }
    else
    {
      if (error)
        return settle(outcome<T>(std::in_place_index<1>,
            std::make_exception_ptr(boost::system::system_error(error))));
    }
    settle(operation_success<T>(std::forward<Rest>(rest)...));
  }

  template <class... Values>
  void complete(Values&&... values)
  {
    settle(operation_success<T>(std::forward<Values>(values)...));
  }

  void settle(outcome<T> result)
  {
    std::shared_ptr<state_type> state = std::move(state_);
    state->settle(std::move(result));
  }

  std::shared_ptr<state_type> state_;
  boost::asio::cancellation_slot slot_;
};

template <class Initiation>
boost::asio::any_io_executor operation_executor(const Initiation& initiation)
{
  if constexpr (requires { initiation.get_executor(); })
    return initiation.get_executor();
  else
    return boost::asio::system_executor();
}

} // namespace detail
} // namespace coflow

namespace boost {
namespace asio {

template <typename R, typename... Args>
class async_result<coflow::use_deferred_t, R(Args...)>
{
public:
  using value_type = typename coflow::detail::operation_signature<
      std::decay_t<Args>...>::value;
  using return_type = coflow::deferred<value_type>;

  template <class Initiation, class RawToken, class... InitArgs>
  static return_type initiate(Initiation&& initiation, RawToken&&,
      InitArgs&&... args)
  {
    using state_type = coflow::detail::deferred_state<value_type, any_io_executor>;
    using canceller_type = coflow::detail::operation_canceller<state_type>;
    using handler_type = coflow::detail::deferred_operation_handler<
        value_type, std::decay_t<Args>...>;

    auto state = std::make_shared<state_type>(
        coflow::detail::operation_executor(initiation));
    auto canceller = std::make_unique<canceller_type>();
    cancellation_slot slot = canceller->slot();
    state->set_canceller(std::move(canceller));
    std::forward<Initiation>(initiation)(
        handler_type(state, slot), std::forward<InitArgs>(args)...);
    return coflow::detail::deferred_access::make(std::move(state));
  }
};

} // namespace asio
} // namespace boost

#endif // COFLOW_IMPL_USE_DEFERRED_HPP
