//
// coflow/detail/deferred_awaiter.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// co_await deferred<U, E> in a coroutine body.
//

#ifndef COFLOW_DETAIL_DEFERRED_AWAITER_HPP
#define COFLOW_DETAIL_DEFERRED_AWAITER_HPP

#include <coflow/detail/cascade_awaiter.hpp>
#include <coflow/detail/executor_hop.hpp>
#include <coflow/detail/state_wait.hpp>
#include <coflow/detail/coroutine_state_base.hpp>

#include <coroutine>
#include <memory>

namespace coflow {
namespace detail {

/// co_await deferred<U, E>: pause and cancel are forwarded to the deferred,
/// on the deferred's executor.
template <class CoroState, class U, class E>
class deferred_awaiter final
  : public cascade_awaiter<deferred_awaiter<CoroState, U, E>, CoroState>
{
public:
  deferred_awaiter(CoroState* t, std::shared_ptr<deferred_state<U, E>> s)
    : deferred_awaiter::cascade_awaiter(t),
      local_(same_executor(t->executor(), s->executor())),
      wait_(t, std::move(s))
  {
  }

  bool ready()
  {
    if (!local_)
      return false; // its state is touched only from its executor
    check_no_cycle(producer_of(wait_.state()), this->coro_, wait_kind::await);
    return wait_.try_now();
  }

  void hand_over(resume_token&& token)
  {
    run_on(local_, wait_.state().executor(),
        [this, token = std::move(token)]() mutable { wait_.wait(std::move(token)); });
  }

  U take() { return wait_.take(); }

  void for_each_awaited(awaited_visitor& visit) const noexcept override
  {
    if (local_) // a coroutine's view: that coroutine
      if (const coroutine_state_base* producer = producer_of(wait_.state()))
        visit(producer);
  }

  awaited_description describe() const noexcept override
  {
    return {awaited_kind::deferred};
  }

  void pause() override { wait_.control(local_, &deferred_state<U, E>::pause); }
  void unpause() override { wait_.control(local_, &deferred_state<U, E>::unpause); }
  void cancel() override
  {
    // A result that has fired and is only held by a pause is not waited
    // for: this consumer leaves the chain (DESIGN.md section 4, cancel).
    apply_on(local_, wait_.state(), wait_.shared_state(),
        [consumer = static_cast<const void*>(&wait_)](deferred_state<U, E>& s) {
          s.cancel_waiter(consumer);
        });
  }

private:
  bool local_;
  shared_state_wait<CoroState, U, E> wait_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_DEFERRED_AWAITER_HPP
