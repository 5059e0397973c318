//
// coflow/detail/deferred_awaiter.hpp
//
// co_await deferred<U, E> in a coroutine body.
//

#ifndef COFLOW_DETAIL_DEFERRED_AWAITER_HPP
#define COFLOW_DETAIL_DEFERRED_AWAITER_HPP

#include <coflow/detail/executor_hop.hpp>
#include <coflow/detail/state_wait.hpp>
#include <coflow/detail/task.hpp>

#include <coroutine>
#include <memory>

namespace coflow {
namespace detail {

/// co_await deferred<U, E>: pause and cancel are forwarded to the deferred,
/// on the deferred's executor.
template <class Task, class U, class E>
class deferred_awaiter final : public awaited_control
{
public:
  deferred_awaiter(Task* t, std::shared_ptr<deferred_state<U, E>> s)
    : task_(t),
      local_(same_executor(t->executor(), s->executor())),
      wait_(t, std::move(s))
  {
  }

  bool await_ready()
  {
    if (task_->cancel_requested())
      return true;
    if (!local_)
      return false;
    check_view_cycle(wait_.state(), task_, "coflow: a coroutine awaits itself",
        "coflow: a cycle of coroutines awaiting each other");
    return wait_.try_now();
  }

  bool await_suspend(std::coroutine_handle<>)
  {
    return task_->suspend_with(this, [this](resume_token token) {
      run_on(local_, wait_.state().executor(),
          [this, token = std::move(token)]() mutable { wait_.wait(std::move(token)); });
    });
  }

  const task_base* awaited_task() const noexcept override
  {
    return local_ ? producer_of(wait_.state()) : nullptr; // a coroutine's view
  }

  U await_resume()
  {
    task_->resumed();
    task_->throw_if_cancelled();
    return wait_.take();
  }

  void pause() override { wait_.control(local_, &deferred_state<U, E>::pause); }
  void unpause() override { wait_.control(local_, &deferred_state<U, E>::unpause); }
  void cancel() override
  {
    // A result that has fired and is only held by a pause is not waited
    // for: this consumer leaves the chain (DESIGN.md section 4, cancel).
    run_on(local_, wait_.state().executor(),
        [s = wait_.shared_state(), consumer = static_cast<const void*>(&wait_)] {
          s->cancel_waiter(consumer);
        });
  }

private:

  Task* task_;
  bool local_;
  shared_state_wait<Task, U, E> wait_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_DEFERRED_AWAITER_HPP
