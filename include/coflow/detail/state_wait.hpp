//
// coflow/detail/state_wait.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// A coroutine body waiting on a deferred's shared state, as a consumer at
// the end of its chain (for a deferred, a started child, a tail call).
//

#ifndef COFLOW_DETAIL_STATE_WAIT_HPP
#define COFLOW_DETAIL_STATE_WAIT_HPP

#include <coflow/detail/deferred_state.hpp>
#include <coflow/detail/deferred_waiter.hpp>
#include <coflow/detail/executor_hop.hpp>
#include <coflow/detail/outcome.hpp>
#include <coflow/detail/coroutine_state_base.hpp>

#include <memory>
#include <optional>
#include <utility>

namespace coflow {
namespace detail {

/// The handler that a suspended body leaves with a deferred's chain: stores
/// the outcome in the awaiter and resumes the body on its executor.
template <class Receiver, class U, class Executor>
class wakeup_handler
{
public:
  using executor_type = Executor;
  /// Marks a handler called with the outcome itself (see waiter_link).
  using takes_outcome = void;

  wakeup_handler(resume_token token, Receiver* receiver) noexcept
    : token_(std::move(token)), receiver_(receiver)
  {
  }

  /// The waiting coroutine's executor, read from its coroutine state: not copied.
  executor_type get_executor() const noexcept { return receiver_->executor(); }

  /// Identifies the waiting awaiter (see deferred_state::cancel_waiter).
  const void* consumer() const noexcept { return receiver_; }

  void operator()(outcome<U> result)
  {
    if (!token_.claim())
      return; // its suspension failed: the receiver is gone
    receiver_->receive(std::move(result));
    std::move(token_).resume();
  }

private:
  resume_token token_;
  Receiver* receiver_;
};

/// The coroutine that produces @p state, when it is a coroutine's deferred
/// view (null otherwise).
template <class State>
const coroutine_state_base* producer_of(const State& state) noexcept
{
  const auto* c = state.canceller();
  return c ? c->producer() : nullptr;
}

/// Waits on a deferred's shared state as a consumer at the end of its chain.
template <class CoroState, class U, class E>
class shared_state_wait
{
public:
  using state_type = deferred_state<U, E>;

  explicit shared_state_wait(CoroState* t, std::shared_ptr<state_type> s = nullptr) noexcept
    : coro_(t), state_(std::move(s))
  {
  }

  void attach(std::shared_ptr<state_type> s) noexcept { state_ = std::move(s); }

  /// The result is there and nothing holds it: no suspension needed.
  bool try_now()
  {
    if (coro_->pause_count() == 0 && state_->can_deliver_now())
    {
      result_.emplace(state_->take_outcome());
      return true;
    }
    return false;
  }

  /// Appends the consumer that carries @p token (the body's running
  /// reference). Runs on the state's executor.
  void wait(resume_token token)
  {
    using handler = wakeup_handler<shared_state_wait, U,
        typename CoroState::executor_type>;
    state_->append(waiter_link<state_type, handler>::create(
        handler(std::move(token), this), {}));
  }

  void receive(outcome<U> result) { result_.emplace(std::move(result)); }

  const typename CoroState::executor_type& executor() const { return coro_->executor(); }

  U take() { return unwrap<U>(std::move(*result_)); }

  outcome<U> take_outcome() { return std::move(*result_); }

  state_type& state() const noexcept { return *state_; }
  const std::shared_ptr<state_type>& shared_state() const noexcept { return state_; }

  /// Applies @p member (pause, unpause or cancel) to the state, from its
  /// executor (now, when it is @p local).
  template <class Member>
  void control(bool local, Member member)
  {
    apply_on(local, *state_, state_, [member](state_type& s) { (s.*member)(); });
  }

private:
  CoroState* coro_;
  std::shared_ptr<state_type> state_;
  std::optional<outcome<U>> result_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_STATE_WAIT_HPP
