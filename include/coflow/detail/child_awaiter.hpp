//
// coflow/detail/child_awaiter.hpp
//
// co_await coroutine<U, E> in a coroutine body: the child coroutine.
//

#ifndef COFLOW_DETAIL_CHILD_AWAITER_HPP
#define COFLOW_DETAIL_CHILD_AWAITER_HPP

#include <coflow/detail/coroutine_access.hpp>
#include <coflow/detail/executor_hop.hpp>
#include <coflow/detail/state_wait.hpp>
#include <coflow/detail/task.hpp>

#include <coroutine>
#include <optional>
#include <stdexcept>
#include <utility>

namespace coflow {
namespace detail {

/// co_await coroutine<U, E>: an unstarted child starts inline (on the
/// parent's executor) and resumes the parent when done; a started one is
/// waited on through its shared state. Either way pause and cancel go to the
/// child's task, on the child's executor.
template <class Task, class U, class E>
class child_awaiter final : public awaited_control
{
public:
  child_awaiter(Task* parent, coroutine<U, E>&& child) noexcept
    : parent_(parent), child_(std::move(child))
  {
  }

  [[gnu::always_inline]] bool await_ready()
  {
    if (parent_->cancel_requested())
      return true;
    if (!child()->started())
      return false;
    return await_ready_started();
  }

  /// await_ready() of a started child (out of line: the common child is
  /// not started).
  [[gnu::noinline]] bool await_ready_started()
  {
    local_ = same_executor(parent_->executor(), child()->executor());
    if (local_ && child()->waits_on(parent_))
      throw std::logic_error(child() == static_cast<const task_base*>(parent_)
              ? "coflow: a coroutine awaits itself"
              : "coflow: a cycle of coroutines awaiting each other");
    shared_.emplace(parent_);
    if (!local_)
      return false; // its state is touched only from its executor
    shared_->attach(child()->shared());
    return shared_->try_now();
  }

  bool await_suspend(std::coroutine_handle<>)
  {
    if (!shared_)
    {
      parent_->suspend_on(this);
      try
      {
        return child()->start_inline(parent_->executor(), parent_);
      }
      catch (...)
      {
        parent_->suspension_failed(); // thrown before the child started
        throw;
      }
    }
    return wait_shared();
  }

  /// A started child: the parent waits on its shared state (out of line:
  /// the inline start above is the common path).
  [[gnu::noinline]] bool wait_shared()
  {
    return parent_->suspend_with(this, [this](resume_token token) {
      run_on(local_, child()->executor(), [this, token = std::move(token)]() mutable {
        if (!local_)
          shared_->attach(child()->shared());
        shared_->wait(std::move(token));
      });
    });
  }

  U await_resume()
  {
    parent_->resumed();
    parent_->throw_if_cancelled();
    if (shared_)
      return shared_->take();
    return child()->take_value();
  }

  const task_base* awaited_task() const noexcept override
  {
    return local_ ? child() : nullptr; // another executor's task is not read
  }

  void pause() override
  {
    if (local_)
      child()->pause();
    else
      post_reported(child()->executor(), [c = child_] { c.pause(); });
  }

  void unpause() override
  {
    if (local_)
      child()->unpause();
    else
      post_reported(child()->executor(), [c = child_] { c.unpause(); });
  }

  void cancel() override
  {
    if (local_)
      child()->cancel();
    else
      post_reported(child()->executor(), [c = child_] { c.cancel(); });
  }

private:
  task<U, E>* child() const noexcept { return coroutine_access::task_pointer(child_); }

  Task* parent_;
  coroutine<U, E> child_;
  bool local_ = true; // an unstarted child runs on the parent's executor
  /// Only for a child started elsewhere: waits on its shared state.
  std::optional<shared_state_wait<Task, U, E>> shared_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_CHILD_AWAITER_HPP
