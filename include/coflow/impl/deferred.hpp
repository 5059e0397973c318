//
// coflow/impl/deferred.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Template definitions of deferred<T, Executor>.
//

#ifndef COFLOW_IMPL_DEFERRED_HPP
#define COFLOW_IMPL_DEFERRED_HPP

#include <coflow/detail/deferred_waiter.hpp>

#include <functional>
#include <stdexcept>
#include <utility>

namespace coflow {
namespace detail {

/// Reaches the state behind a handle, for the library's own machinery.
struct deferred_access
{
  template <class T, class Executor>
  static const std::shared_ptr<deferred_state<T, Executor>>& state(
      const deferred<T, Executor>& d) noexcept
  {
    return d.state_;
  }

  template <class T, class Executor>
  static deferred<T, Executor> make(
      std::shared_ptr<deferred_state<T, Executor>> state) noexcept
  {
    return deferred<T, Executor>(std::move(state));
  }
};

/// Marks the absent half of add_callback() / add_errback().
struct pass_through
{
};

/// Stores the result of @p produce (a value, nothing for void, or a deferred
/// to wait for) as the state's new result; an exception becomes the error.
template <class State, class Produce>
void apply_result(State& state, Produce&& produce)
{
  using T = typename State::result_type;
  using R = std::invoke_result_t<Produce&>;
  try
  {
    if constexpr (is_deferred<R>::value)
    {
      static_assert(std::is_same_v<typename R::value_type, T>,
          "coflow: a callback or errback of deferred<T> may return a deferred "
          "only of the same T");
      R inner = produce();
      state.wait_on(deferred_access::state(inner));
    }
    else if constexpr (std::is_void_v<T>)
    {
      static_assert(std::is_void_v<R>,
          "coflow: a callback or errback of deferred<void> must return void "
          "or deferred<void>");
      produce();
      state.set_value(void_value{});
    }
    else
    {
      static_assert(std::is_convertible_v<R, T>,
          "coflow: a callback or errback of deferred<T> must return T (or "
          "something convertible to it) or deferred<T>");
      state.set_value(produce());
    }
  }
  catch (...)
  {
    state.set_error(std::current_exception());
  }
}

template <class State, class Callback, class Errback>
class callbacks_link final : public chain_link<State>
{
public:
  callbacks_link(Callback cb, Errback eb)
    : callback_(std::move(cb)), errback_(std::move(eb))
  {
  }

  void run(State& state, std::shared_ptr<chain_node>&) override
  {
    if (state.has_value())
    {
      if constexpr (!std::is_same_v<Callback, pass_through>)
      {
        apply_result(state, [&]() -> decltype(auto) {
          if constexpr (std::is_void_v<typename State::result_type>)
            return std::invoke(callback_);
          else
            return std::invoke(callback_, std::move(state.value()));
        });
      }
    }
    else if constexpr (!std::is_same_v<Errback, pass_through>)
    {
      std::exception_ptr error = state.receive_error();
      apply_result(state,
          [&]() -> decltype(auto) { return std::invoke(errback_, error); });
    }
  }

  void destroy() noexcept override { delete this; }

private:
  ~callbacks_link() = default;

  Callback callback_;
  Errback errback_;
};

/// then(f): computes the target's result from this chain's value, leaving
/// this chain's result as it is. The target's chain runs after this link,
/// in the loop that runs this chain (see chain_node::drive).
template <class State, class Function, class Target>
class then_link final : public chain_link<State>
{
public:
  then_link(Function f, std::shared_ptr<Target> target)
    : function_(std::move(f)), target_(std::move(target))
  {
  }

  void run(State& state, std::shared_ptr<chain_node>& next) override
  {
    using U = typename Target::result_type;
    bool settled;
    if (!state.has_value())
    {
      settled = target_->store(
          outcome<U>(std::in_place_index<1>, state.receive_error()));
    }
    else
    {
      try
      {
        if constexpr (std::is_void_v<typename State::result_type>)
          settled = invoke_then([&]() -> decltype(auto) { return std::invoke(function_); });
        else
          settled = invoke_then([&]() -> decltype(auto) {
            return std::invoke(function_, std::as_const(state.value()));
          });
      }
      catch (...)
      {
        settled = target_->store(
            outcome<U>(std::in_place_index<1>, std::current_exception()));
      }
    }
    if (settled)
      next = std::move(target_);
  }

  void destroy() noexcept override { delete this; }

  const chain_node* dependent() const noexcept override
  {
    return target_->called() ? nullptr : target_.get();
  }

private:
  ~then_link() = default;

  /// @returns whether the target holds its result now.
  template <class Call>
  bool invoke_then(Call&& call)
  {
    using U = typename Target::result_type;
    using R = std::invoke_result_t<Call&>;
    if constexpr (is_deferred<R>::value)
    {
      R inner = call();
      return target_->store_from(deferred_access::state(inner));
    }
    else if constexpr (std::is_void_v<R>)
    {
      call();
      return target_->store(outcome<U>(std::in_place_index<0>, void_value{}));
    }
    else
    {
      return target_->store(outcome<U>(std::in_place_index<0>, call()));
    }
  }

  Function function_;
  std::shared_ptr<Target> target_;
};

/// A user canceller, called with a handle to the deferred.
template <class State, class T, class Executor, class Canceller>
class function_canceller final : public canceller_base<State>
{
public:
  explicit function_canceller(Canceller c) : canceller_(std::move(c)) {}

  void cancel(State& state) override
  {
    auto d = deferred_access::make<T, Executor>(state.shared_from_this());
    std::invoke(canceller_, d);
  }

private:
  Canceller canceller_;
};

template <class T, class Executor>
class initiate_wait
{
public:
  using executor_type = Executor;

  explicit initiate_wait(std::shared_ptr<deferred_state<T, Executor>> state) noexcept
    : state_(std::move(state))
  {
  }

  executor_type get_executor() const noexcept { return state_->executor(); }

  template <class Handler>
  void operator()(Handler&& handler) const
  {
    using link = waiter_link<deferred_state<T, Executor>, std::decay_t<Handler>>;
    std::decay_t<Handler> h(std::forward<Handler>(handler));
    if (state_->can_deliver_now())
    {
      // Fired, and nothing in the chain before this consumer: the result is
      // posted now, as the link would post it, without the link (nor its
      // cancel forwarder: a cancel of a fired deferred does nothing).
      post_to_handler<T>(state_->executor(), std::move(h),
          boost::asio::cancellation_slot(), state_->take_outcome());
      return;
    }
    state_->append(link::create(std::move(h), state_));
  }

private:
  std::shared_ptr<deferred_state<T, Executor>> state_;
};

} // namespace detail

template <class T, class Executor>
deferred<T, Executor>::deferred(const executor_type& ex)
  : state_(detail::new_shared_state<state_type>(ex))
{
}

template <class T, class Executor>
std::shared_ptr<typename deferred<T, Executor>::state_type>
deferred<T, Executor>::checked_state() const
{
  if (!state_)
    throw std::logic_error("coflow: operation on an empty deferred handle");
  return state_;
}

template <class T, class Executor>
typename deferred<T, Executor>::executor_type
deferred<T, Executor>::get_executor() const
{
  return checked_state()->executor();
}

template <class T, class Executor>
void deferred<T, Executor>::callback(detail::value_of<T> value) const
  requires(!std::is_void_v<T>)
{
  checked_state()->fire(detail::outcome<T>(std::in_place_index<0>, std::move(value)));
}

template <class T, class Executor>
void deferred<T, Executor>::callback() const
  requires std::is_void_v<T>
{
  checked_state()->fire(detail::outcome<T>(std::in_place_index<0>));
}

template <class T, class Executor>
void deferred<T, Executor>::errback(std::exception_ptr error) const
{
  auto state = checked_state();
  if (!error)
    throw std::invalid_argument("coflow: errback() with a null exception_ptr");
  state->fire(detail::outcome<T>(std::in_place_index<1>, std::move(error)));
}

template <class T, class Executor>
bool deferred<T, Executor>::called() const
{
  return checked_state()->called();
}

template <class T, class Executor>
template <class Callback, class Errback>
const deferred<T, Executor>& deferred<T, Executor>::add_callbacks(
    Callback callback, Errback errback) const
{
  auto state = checked_state();
  state->append(new detail::callbacks_link<state_type, Callback, Errback>(
      std::move(callback), std::move(errback)));
  return *this;
}

template <class T, class Executor>
template <class Callback>
const deferred<T, Executor>& deferred<T, Executor>::add_callback(Callback callback) const
{
  return add_callbacks(std::move(callback), detail::pass_through{});
}

template <class T, class Executor>
template <class Errback>
const deferred<T, Executor>& deferred<T, Executor>::add_errback(Errback errback) const
{
  return add_callbacks(detail::pass_through{}, std::move(errback));
}

template <class T, class Executor>
template <class Function>
const deferred<T, Executor>& deferred<T, Executor>::add_both(Function f) const
{
  Function errback = f;
  return add_callbacks(std::move(f), std::move(errback));
}

template <class T, class Executor>
template <class Function>
auto deferred<T, Executor>::then(Function f) const
{
  using R = std::conditional_t<std::is_void_v<T>,
      std::invoke_result<Function&>,
      std::invoke_result<Function&, const detail::value_of<T>&>>;
  using U = typename detail::then_value<typename R::type>::type;
  using target_state = detail::deferred_state<U, Executor>;

  auto state = checked_state();
  auto target = detail::new_shared_state<target_state>(state->executor());
  // Cancelling the unfired target cancels this deferred.
  target->set_upstream(state);
  state->append(new detail::then_link<state_type, Function, target_state>(
      std::move(f), target));
  return detail::deferred_access::make<U, Executor>(std::move(target));
}

template <class T, class Executor>
void deferred<T, Executor>::pause() const
{
  checked_state()->pause();
}

template <class T, class Executor>
void deferred<T, Executor>::unpause() const
{
  checked_state()->unpause();
}

template <class T, class Executor>
unsigned deferred<T, Executor>::pause_count() const
{
  return checked_state()->pause_count();
}

template <class T, class Executor>
void deferred<T, Executor>::cancel() const
{
  checked_state()->cancel();
}

} // namespace coflow

#endif // COFLOW_IMPL_DEFERRED_HPP
