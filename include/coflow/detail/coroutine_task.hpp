//
// coflow/detail/coroutine_task.hpp
//
// task<T, Executor>: the typed part of a coroutine's identity: executor,
// result, and the shared state built lazily for deferred-style consumers.
//

#ifndef COFLOW_DETAIL_COROUTINE_TASK_HPP
#define COFLOW_DETAIL_COROUTINE_TASK_HPP

#include <coflow/detail/deferred_state.hpp>
#include <coflow/detail/frame_block.hpp>
#include <coflow/detail/task.hpp>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>

#include <memory>
#include <optional>
#include <variant>

namespace coflow {
namespace detail {

template <class T, class Executor>
class task final : public task_base
{
public:
  using result_type = T;
  using executor_type = Executor;
  using value_type = value_of<T>;
  using shared_state_type = deferred_state<T, Executor>;

  task(frame_block* block, std::coroutine_handle<> frame) noexcept : block_(block)
  {
    frame_ = frame;
  }

  const Executor& executor() const
  {
    if (!executor_)
      throw std::logic_error(
          "coflow: the coroutine has not started: spawn it or await it first");
    return *executor_;
  }

  /// Spawn: the start is posted, and the coroutine is outstanding work of
  /// its executor until it completes (as co_spawn's), so run() waits for it.
  void start_posted(Executor ex)
  {
    mark_started();
    executor_ = &own_executor_.emplace(std::move(ex));
    work_.emplace(boost::asio::prefer(
        *executor_, boost::asio::execution::outstanding_work.tracked));
    add_ref(); // the running reference
    post_resume(resume_token::adopt(this));
  }

  /// A child awaited at once: runs through the pump on its parent's
  /// executor, which it borrows when the types match (the parent outlives
  /// the child's run), and on the parent's running reference.
  template <class ParentExecutor>
  void start_inline(const ParentExecutor& parent_executor, resume_token parent)
  {
    mark_started();
    if constexpr (std::is_same_v<ParentExecutor, Executor>)
      executor_ = &parent_executor;
    else
      executor_ = &own_executor_.emplace(parent_executor);
    continuation_ = std::move(parent);
    borrowed_run_ = true;
    std::move(resume_token::adopt(this)).resume();
  }

  // --- results -------------------------------------------------------------

  template <class V>
  void set_value(V&& v)
  {
    result_.template emplace<1>(std::forward<V>(v));
  }

  void set_error(std::exception_ptr e) noexcept { result_.template emplace<2>(std::move(e)); }

  /// The outcome for the (single) continuation: moved out.
  outcome<T> take_outcome()
  {
    if (result_.index() == 2)
      return outcome<T>(std::in_place_index<1>, std::get<2>(result_));
    return outcome<T>(std::in_place_index<0>, std::move(std::get<1>(result_)));
  }

  /// The value for the (single) continuation, moved out, or the error
  /// thrown.
  T take_value()
  {
    if (result_.index() == 2)
      std::rethrow_exception(std::get<2>(result_));
    if constexpr (!std::is_void_v<T>)
      return std::move(std::get<1>(result_));
  }

  /// The shared state through which deferred-style consumers wait; built on
  /// first use. A cancel through it cancels the coroutine, whose unwinding
  /// then fires it.
  const std::shared_ptr<shared_state_type>& shared()
  {
    if (!shared_)
    {
      shared_ = std::make_shared<shared_state_type>(executor());
      shared_->set_canceller(std::make_unique<shared_canceller>(this));
      if (finished_)
        shared_->settle(copy_outcome());
    }
    return shared_;
  }

  // --- completion ----------------------------------------------------------

  /// The body reached its final suspend point; its frame goes now.
  void on_body_done() noexcept
  {
    body_done_ = true;
    if (cancelled_)
    {
      // Whatever the body did after the cancel, the result is cancelled. An
      // error other than the cancel itself came from cleanup: reported.
      if (result_.index() == 2 && std::get<2>(result_) != shared_cancelled_error())
        report_unhandled_error(std::get<2>(result_));
      result_.template emplace<2>(shared_cancelled_error());
    }
    destroy_frame();
    if (pause_count_ > 0 && !cancelled_)
    {
      // Its own result is held from its consumers, as a body's wake-up is.
      held_ = resume_token::adopt(this);
      register_held();
      return;
    }
    deliver();
  }

private:
  class shared_canceller final : public canceller_base<shared_state_type>
  {
  public:
    explicit shared_canceller(task* t) noexcept : task_(t) {}
    void cancel(shared_state_type&) override
    {
      if (task_)
        task_->cancel();
    }
    bool settles_later() const noexcept override { return task_ != nullptr; }
    void detach() noexcept { task_ = nullptr; }

  private:
    task* task_;
  };

  void mark_started()
  {
    if (started_)
      throw std::logic_error("coflow: the coroutine has already started");
    started_ = true;
  }

  outcome<T> copy_outcome() const
  {
    if (result_.index() == 2)
      return outcome<T>(std::in_place_index<1>, std::get<2>(result_));
    if constexpr (std::is_copy_constructible_v<value_type>)
      return outcome<T>(std::in_place_index<0>, std::get<1>(result_));
    else
      return outcome<T>(std::in_place_index<1>,
          std::make_exception_ptr(std::logic_error(
              "coflow: a move-only result has a single consumer")));
  }

  /// A borrowed executor belongs to an ancestor that may go before this
  /// task's other handles do: they get a copy of their own.
  void keep_executor() noexcept
  {
    if (executor_ && !own_executor_
        && refs_.load(std::memory_order_relaxed) > 1)
      executor_ = &own_executor_.emplace(*executor_);
  }

  /// Hands the result to the consumers and the continuation, then drops the
  /// running reference. Runs inside a pump: the continuation runs after it.
  void deliver() noexcept
  {
    finished_ = true;
    try
    {
      if (shared_)
      {
        if (continuation_)
          shared_->settle(copy_outcome());
        else
          shared_->settle(take_outcome());
      }
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
    const bool counted = !borrowed_run_;
    if (continuation_)
    {
      keep_executor();
      std::move(continuation_).resume();
    }
    work_.reset();
    if (counted)
      release();
  }

  // task_base hooks

  void destroy_self() noexcept override
  {
    unregister_waiters();
    destroy_frame();
    if (shared_)
      if (auto* c = static_cast<shared_canceller*>(shared_->canceller()))
        c->detach();
    frame_block* block = block_;
    this->~task();
    block->task_destroyed();
  }

  void post_resume(resume_token token) override
  {
    boost::asio::post(*executor_,
        [token = std::move(token)]() mutable { std::move(token).resume(); });
  }

  boost::asio::execution_context& context() override
  {
    return boost::asio::query(*executor_, boost::asio::execution::context);
  }

  void on_abandoned() noexcept override
  {
    work_.reset();
    destroy_frame();
    keep_executor();
    // Last: with a borrowed running reference, the parent's frame holds the
    // only handle, and this task may go with it.
    resume_token parent = std::move(continuation_);
    parent.reset();
  }

  void finish_unstarted() override
  {
    // Cancelled before the body started: it never runs.
    result_.template emplace<2>(shared_cancelled_error());
    body_done_ = true;
    destroy_frame();
    deliver();
  }

  void finish_held() override { deliver(); }

  using work_type = std::decay_t<decltype(boost::asio::prefer(
      std::declval<const Executor&>(),
      boost::asio::execution::outstanding_work.tracked))>;

  frame_block* block_;
  const Executor* executor_ = nullptr;
  std::optional<Executor> own_executor_;
  std::optional<work_type> work_;
  std::variant<std::monostate, value_type, std::exception_ptr> result_;
  std::shared_ptr<shared_state_type> shared_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_COROUTINE_TASK_HPP
