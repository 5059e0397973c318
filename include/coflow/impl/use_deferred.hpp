//
// coflow/impl/use_deferred.hpp
//
// async_result for use_deferred_t: the operation's handler fires the shared
// state of the returned deferred; the state's canceller emits on the
// operation's slot.
//

#ifndef COFLOW_IMPL_USE_DEFERRED_HPP
#define COFLOW_IMPL_USE_DEFERRED_HPP

#include <coflow/detail/operation_outcome.hpp>

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
    std::shared_ptr<state_type> state = std::move(state_);
    state->settle(operation_outcome<T>(std::forward<CallArgs>(args)...));
  }

private:
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
