//
// coflow/impl/use_deferred.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// async_result for use_deferred_t: the operation's handler fires the shared
// state of the returned deferred; the state's canceller emits on the
// operation's slot, and the cancel's failure waits for the handler.
//

#ifndef COFLOW_IMPL_USE_DEFERRED_HPP
#define COFLOW_IMPL_USE_DEFERRED_HPP

#include <coflow/detail/operation_outcome.hpp>
#include <coflow/detail/waiter_registry.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
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
///
/// While the handler is out (neither called nor destroyed), a cancel's
/// failure waits for it (fails_later()): the operation may still use its
/// buffers, so whoever awaits the deferred must not go on before it ends.
template <class State>
class operation_canceller final : public canceller_base<State>
{
public:
  void cancel(State& state) override
  {
    if (in_flight_)
    {
      // So that a handler destroyed later can be told from one destroyed by
      // the context's shutdown (out of memory: taken for the shutdown).
      try
      {
        ensure_waiter_registry(
            boost::asio::query(state.executor(), boost::asio::execution::context));
      }
      catch (...)
      {
      }
    }
    signal_.emit(boost::asio::cancellation_type::terminal);
  }

  bool fails_later() const noexcept override { return in_flight_; }

  boost::asio::cancellation_slot slot() noexcept { return signal_.slot(); }

  /// The operation has called its handler, or destroyed it.
  void operation_ended() noexcept { in_flight_ = false; }

private:
  boost::asio::cancellation_signal signal_;
  bool in_flight_ = true;
};

/// The operation's handler. Move-only: its destruction without a call
/// tells that the operation has ended without a result.
template <class T>
class deferred_operation_handler
{
public:
  using state_type = deferred_state<T, boost::asio::any_io_executor>;
  using canceller_type = operation_canceller<state_type>;
  using cancellation_slot_type = boost::asio::cancellation_slot;

  deferred_operation_handler(std::shared_ptr<state_type> state,
      canceller_type* canceller) noexcept
    : state_(std::move(state)), canceller_(canceller), slot_(canceller->slot())
  {
  }

  deferred_operation_handler(deferred_operation_handler&& other) noexcept = default;
  deferred_operation_handler& operator=(deferred_operation_handler&&) = delete;

  ~deferred_operation_handler()
  {
    if (state_)
      dropped();
  }

  cancellation_slot_type get_cancellation_slot() const noexcept { return slot_; }

  template <class... CallArgs>
  void operator()(CallArgs&&... args)
  {
    std::shared_ptr<state_type> state = std::move(state_);
    canceller_->operation_ended();
    // After a cancel, the result is discarded and the deferred fails with
    // cancelled_error (see deferred_state::store()).
    state->settle(operation_outcome<T>(std::forward<CallArgs>(args)...));
  }

private:
  /// Destroyed without being called: the operation is over. Outside the
  /// context's shutdown, a cancel that waited for it fails the deferred
  /// now (posted, as any delivery); without a cancel, nothing fires it, as
  /// before. The shutdown destroys the waiters instead: nothing is called.
  void dropped() noexcept
  {
    std::shared_ptr<state_type> state = std::move(state_);
    canceller_->operation_ended();
    if (!state->cancel_pending())
      return;
    try
    {
      if (context_shutting_down(
              boost::asio::query(state->executor(), boost::asio::execution::context)))
        return;
      const boost::asio::any_io_executor ex = state->executor();
      boost::asio::post(ex, [state = std::move(state)] { state->producer_gone(); });
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
  }

  std::shared_ptr<state_type> state_;
  canceller_type* canceller_;
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
    using handler_type = coflow::detail::deferred_operation_handler<value_type>;

    auto state = coflow::detail::new_shared_state<state_type>(
        coflow::detail::operation_executor(initiation));
    auto canceller = std::make_unique<canceller_type>();
    canceller_type* c = canceller.get();
    state->set_canceller(std::move(canceller));
    std::forward<Initiation>(initiation)(
        handler_type(state, c), std::forward<InitArgs>(args)...);
    return coflow::detail::deferred_access::make(std::move(state));
  }
};

} // namespace asio
} // namespace boost

#endif // COFLOW_IMPL_USE_DEFERRED_HPP
