//
// coflow/detail/task.hpp
//
// The identity of a running coroutine: its frame, pause count, cancel state,
// what it awaits right now (for the cascade), whom it resumes when done, and
// its result. A coroutine<T> handle refers to a task.
//

#ifndef COFLOW_DETAIL_TASK_HPP
#define COFLOW_DETAIL_TASK_HPP

#include <coflow/detail/deferred_state.hpp>
#include <coflow/detail/waiter_registry.hpp>
#include <coflow/error.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cassert>
#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>

namespace coflow {
namespace detail {

/// The trampoline: every coroutine resumption runs inside a pump loop, and a
/// transfer of control (child start, child completion, an operation that
/// completes inside its initiation) sets `next` instead of resuming. So the
/// stack stays flat in every build type, whatever the compiler does with
/// symmetric transfer (the same idea as asio's awaitable_thread::pump).
///
/// One exception, bounded: a child awaited at once runs nested inside its
/// parent's await_suspend, up to `max_nesting` levels, so that a child that
/// completes without suspending returns to its parent as a function call
/// does, without two trips through the loop.
struct pump
{
  static constexpr unsigned char max_nesting = 32;

  std::coroutine_handle<> next;

  static pump*& current() noexcept
  {
    static thread_local pump* p = nullptr;
    return p;
  }

  /// Runs @p f inside a pump: resumptions it requests run after it returns,
  /// one after the other, on this stack level.
  template <class Function>
  static void run(Function&& f)
  {
    if (current())
    {
      std::forward<Function>(f)();
      return;
    }
    pump self;
    current() = &self;
    struct leave
    {
      ~leave() { current() = nullptr; }
    } guard;
    std::forward<Function>(f)();
    while (self.next)
      std::exchange(self.next, nullptr).resume();
  }

  /// Resumes @p h now, or hands it to the pump already running on this
  /// thread (the caller is then inside a suspension).
  static void resume(std::coroutine_handle<> h)
  {
    if (pump* p = current())
    {
      assert(!p->next);
      p->next = h;
      return;
    }
    run([h] { current()->next = h; });
  }
};

class task_base;

/// What a suspended coroutine waits on, as the cascade sees it.
class awaited_control
{
public:
  virtual void pause() = 0;
  virtual void unpause() = 0;
  virtual void cancel() = 0;

  /// The coroutine waited on, if it is one (to find cycles of awaits).
  virtual const task_base* awaited_task() const noexcept { return nullptr; }

protected:
  ~awaited_control() = default;
};

/// The right to resume a suspended coroutine: exactly one exists while it is
/// suspended, held by whatever will resume it (an Asio handler, a deferred's
/// consumer link, a child task). Destroying it unused abandons the coroutine:
/// its frame is destroyed, and so is the token of its parent. This is how a
/// context shutdown destroys suspended frames, as asio's awaitable_thread.
///
/// The token carries the coroutine's running reference: counted for a
/// spawned coroutine, borrowed for a child started inline (whose awaiting
/// parent holds its handle until the child has finished).
class resume_token
{
public:
  resume_token() noexcept = default;

  /// The running coroutine @p t suspends: its running reference moves into
  /// the token (no reference count change).
  static resume_token adopt(task_base* t) noexcept
  {
    resume_token token;
    token.task_ = t;
    return token;
  }
  resume_token(resume_token&& other) noexcept : task_(std::exchange(other.task_, nullptr)) {}
  resume_token& operator=(resume_token&& other) noexcept
  {
    if (this != &other)
    {
      if (task_)
        reset();
      task_ = std::exchange(other.task_, nullptr);
    }
    return *this;
  }
  ~resume_token()
  {
    if (task_) // most tokens die moved-from
      reset();
  }

  explicit operator bool() const noexcept { return task_ != nullptr; }

  /// Resumes the coroutine (unless it is paused: then it is held), inside
  /// a pump.
  void resume() &&;

  /// Destroys the coroutine without resuming it.
  void reset() noexcept;

  /// Gives up the token; its reference becomes the running reference.
  task_base* detach() noexcept { return std::exchange(task_, nullptr); }

  task_base* get() const noexcept { return task_; }

private:
  friend class task_base;
  task_base* task_ = nullptr;
};

/// What a task needs only once it is paused, held or shared: built on first
/// use, so a child awaited at once never pays for it. The typed task adds
/// its own part (see task<T, Executor>::extras).
class task_extras : public registered_state
{
public:
  explicit task_extras(task_base* owner) noexcept : owner_(owner) {}
  virtual ~task_extras() { unregister_waiters(); }

  void cancel() override;

  using registered_state::register_waiters;
  using registered_state::unregister_waiters;

  /// A wake-up, a start or an end held by a pause (registered with the
  /// context's waiter registry meanwhile).
  resume_token held;
  /// What the pause was forwarded to, to release exactly that.
  awaited_control* paused_target = nullptr;

private:
  void abandon_waiters() noexcept override
  {
    resume_token token = std::move(held);
    token.reset(); // may destroy the task, and this with it: nothing after
  }

  task_base* owner_;
};

/// The executor-independent part of a task: pause / cancel cascade, the
/// frame, the continuation and the reference count.
class task_base
{
public:
  task_base() = default;
  task_base(const task_base&) = delete;
  task_base& operator=(const task_base&) = delete;

  // --- reference counting (handles) ----------------------------------------
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept
  {
    if (release_last())
      destroy_self();
  }

  /// Drops a reference. @returns true if it was the last one.
  bool release_last() noexcept
  {
    // The only reference: nobody can copy it concurrently, so no
    // read-modify-write is needed (the common case of an awaited child).
    return refs_.load(std::memory_order_acquire) == 1
        || refs_.fetch_sub(1, std::memory_order_acq_rel) == 1;
  }

  // --- state ---------------------------------------------------------------
  bool started() const noexcept { return started_; }
  bool finished() const noexcept { return finished_; }
  /// The result exists: delivered, or held by a pause (Twisted's `called`).
  /// After a tail call, the result is the next state's, once it is there.
  bool produced() const noexcept
  {
    return finished_ || (body_done_ && (!awaited_ || (extras_ && extras_->held)));
  }
  bool cancel_requested() const noexcept { return (control_ & cancel_bit) != 0; }
  unsigned pause_count() const noexcept { return control_ & ~cancel_bit; }
  /// Paused and not cancelled: a wake-up, a start or an end is held.
  bool held_by_pause() const noexcept { return control_ - 1u < cancel_bit - 1u; }
  /// Whether a wake-up would resume the body now (not held by a pause).
  bool runnable() const noexcept { return !held_by_pause(); }
  /// How many children run nested below this body, down to the pump.
  unsigned char nesting() const noexcept { return nesting_; }

  // --- flow control ----------------------------------------------------------
  void pause()
  {
    if (pause_count() == cancel_bit - 1)
      throw std::length_error("coflow: too many pause() calls");
    task_extras& x = more_base(); // before the count: all or nothing
    if (control_++ == 0 && awaited_ && !x.paused_target)
    {
      x.paused_target = awaited_;
      x.paused_target->pause();
    }
  }

  void unpause()
  {
    if (pause_count() == 0)
      throw std::logic_error("coflow: unpause() without a matching pause()");
    if ((--control_ & ~cancel_bit) != 0)
      return;
    release_pause_target();
    release_held();
  }

  void cancel()
  {
    if (cancel_requested() || produced())
      return; // a produced result, held by a pause, stays held
    control_ |= cancel_bit;
    // Release the pause forwarded on our behalf: nothing stays paused.
    release_pause_target();
    if (awaited_)
      awaited_->cancel();
    // Held by a pause (a result, a start, or the end): cancel overrides it.
    release_held();
  }

  // --- suspension protocol, used by awaiters ------------------------------------
  /// The body suspends on @p control: it becomes the cascade's target.
  void suspend_on(awaited_control* control)
  {
    awaited_ = control;
    if (held_by_pause() && !extras_->paused_target) // pause() built the extras
    {
      extras_->paused_target = control;
      control->pause();
    }
  }

  /// The body resumes from its suspension point.
  void resumed() noexcept { awaited_ = nullptr; }

  /// The body goes on without having suspended (the hand-over failed): the
  /// pause forwarded to the awaiter that goes with it is released, and the
  /// next suspension forwards the pause anew.
  void suspension_failed() noexcept
  {
    if (extras_ && extras_->paused_target == awaited_)
      release_pause_target_noexcept();
    awaited_ = nullptr;
  }

  /// Whether waiting on @p waiter's completion here would close a cycle:
  /// @p waiter is this task, or what this task waits on waits on it, and so
  /// on. Only follows tasks of the caller's executor (no other is read).
  bool waits_on(const task_base* waiter) const noexcept
  {
    const task_base* t = this;
    for (int hops = 0; t && hops < 100000; ++hops)
    {
      if (t == waiter)
        return true;
      t = t->awaited_ ? t->awaited_->awaited_task() : nullptr;
    }
    return false;
  }

  /// Throws cancelled_error if a cancel was requested (sticky).
  void throw_if_cancelled() const
  {
    if (cancel_requested())
      std::rethrow_exception(shared_cancelled_error());
  }

  /// Called by a resume_token, inside a pump: resume the frame, or hold it
  /// while paused.
  void wake(resume_token token)
  {
    if (!held_by_pause() && body_entered_ && !body_done_)
    {
      // The common case: a running body resumes from a suspension.
      (void)token.detach(); // the reference is now the running reference
      nesting_ = 0;
      return pump::resume(frame_);
    }
    wake_slow(std::move(token));
  }

protected:
  void wake_slow(resume_token token)
  {
    if (held_by_pause())
    {
      hold(std::move(token));
      return;
    }
    (void)token.detach();
    if (!body_done_)
    {
      if (!body_entered_)
      {
        body_entered_ = true;
        if (cancel_requested())
          return finish_unstarted();
      }
      nesting_ = 0;
      return pump::resume(frame_);
    }
    finish_held();
  }

  ~task_base() = default;

  /// The parent's running reference becomes this task's continuation.
  void adopt_continuation(task_base* parent) noexcept
  {
    assert(!continuation_);
    continuation_.task_ = parent;
  }

  /// The extras of this task, built on first use.
  task_extras& more_base()
  {
    if (!extras_)
      extras_ = make_extras();
    return *extras_;
  }

  /// Builds the (typed) extras.
  virtual std::unique_ptr<task_extras> make_extras() = 0;
  /// Frees this object (refcount reached zero).
  virtual void destroy_self() noexcept = 0;
  /// Posts @p token's resumption to the executor.
  virtual void post_resume(resume_token token) = 0;
  /// The execution context, for the waiter registry.
  virtual boost::asio::execution_context& context() = 0;
  /// The frame was abandoned: complete without a result.
  virtual void on_abandoned() noexcept = 0;
  /// Cancelled before the body started: complete without running it.
  virtual void finish_unstarted() = 0;
  /// The end of the body was held by a pause: deliver it now.
  virtual void finish_held() = 0;

  /// A pause holds the start of the body now in frame_ (a tail call's next
  /// state): the running reference goes into the held token.
  void hold_start()
  {
    hold(resume_token::adopt(this));
  }

  /// A pause holds @p token (the extras exist: pause() built them); the
  /// context's shutdown may destroy it meanwhile.
  void hold(resume_token token)
  {
    extras_->held = std::move(token);
    extras_->register_waiters(context());
  }

  /// Resumes what a pause (or a pending cancel) holds: through the executor,
  /// never inside unpause() or cancel().
  void release_held()
  {
    if (extras_ && extras_->held)
    {
      extras_->unregister_waiters();
      post_resume(std::move(extras_->held));
    }
  }

  void release_pause_target_noexcept() noexcept
  {
    try
    {
      release_pause_target();
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
  }

  /// The frame was destroyed without resuming: what it awaited is gone with
  /// it, and no later pause or cancel may reach it.
  void forget_awaited() noexcept
  {
    awaited_ = nullptr;
    if (extras_)
      extras_->paused_target = nullptr;
  }

  void release_pause_target()
  {
    if (extras_)
      if (awaited_control* target = std::exchange(extras_->paused_target, nullptr))
        target->unpause();
  }

  /// Destroys the frame, once.
  void destroy_frame() noexcept
  {
    if (auto f = std::exchange(frame_, nullptr))
      f.destroy();
  }

  friend class resume_token;

  std::atomic<unsigned> refs_{1};
  std::coroutine_handle<> frame_;
  awaited_control* awaited_ = nullptr;
  resume_token continuation_;
  std::unique_ptr<task_extras> extras_;
  /// The pause count, and the cancel request in the top bit: one word, so
  /// that the hot paths test "neither paused nor cancelled" at once.
  static constexpr unsigned cancel_bit = 1u << 31;
  unsigned control_ = 0;
  bool started_ = false;
  bool finished_ = false;
  bool body_entered_ = false;
  bool body_done_ = false;
  /// How many children run nested below this body's frame on the stack,
  /// down to the pump's loop (see pump::max_nesting).
  unsigned char nesting_ = 0;
  /// The running reference is borrowed from the awaiting parent's handle.
  bool borrowed_run_ = false;
  /// Inside a suspension_guard: a dropped token does not abandon.
  bool guarding_suspension_ = false;
  bool token_dropped_ = false;

  friend class suspension_guard;
};

/// Guards the part of an await_suspend that hands the resume token to code
/// that may throw or drop it (an initiation, an allocation, a dispatch).
/// There, a token destroyed unused must not abandon the coroutine: its frame
/// is still running. An exception propagates into the body at its co_await,
/// as the language does for a throwing await_suspend; a token dropped without
/// one becomes std::logic_error there (done()), since nothing could ever
/// resume the body.
class suspension_guard
{
public:
  explicit suspension_guard(task_base* t) noexcept : task_(t)
  {
    task_->guarding_suspension_ = true;
  }

  suspension_guard(const suspension_guard&) = delete;
  suspension_guard& operator=(const suspension_guard&) = delete;

  /// The hand-over returned normally.
  void done()
  {
    task_->guarding_suspension_ = false;
    if (std::exchange(task_->token_dropped_, false))
    {
      task_->suspension_failed();
      throw std::logic_error(
          "coflow: the awaited operation destroyed its handler without calling it");
    }
  }

  /// Without done(): the hand-over threw, and the body goes on with the
  /// exception. If the handler ran before the throw, its wake-up must not
  /// run the body a second time.
  ~suspension_guard()
  {
    if (!task_->guarding_suspension_)
      return;
    task_->guarding_suspension_ = false;
    task_->token_dropped_ = false;
    if (pump* p = pump::current(); p && p->next == task_->frame_)
      p->next = nullptr;
    if (task_extras* x = task_->extras_.get(); x && x->held)
    {
      x->unregister_waiters();
      (void)x->held.detach();
    }
    task_->suspension_failed();
  }

private:
  task_base* task_;
};

inline void task_extras::cancel()
{
  owner_->cancel();
}

inline void resume_token::resume() &&
{
  pump::run([this] {
    task_base* t = task_;
    // The reference travels on: held by a pause, or running.
    t->wake(std::move(*this));
  });
}

inline void resume_token::reset() noexcept
{
  if (task_base* t = std::exchange(task_, nullptr))
  {
    if (t->guarding_suspension_)
    {
      // Inside the coroutine's own await_suspend: see suspension_guard.
      // The running reference stays with the running frame.
      t->token_dropped_ = true;
      return;
    }
    // Unused: the coroutine can never be resumed. Destroy its frame (and,
    // through its continuation, its parents'). A borrowed running reference
    // is not released: the parent's handle, gone with the parent's frame,
    // was it.
    const bool counted = !t->borrowed_run_;
    t->forget_awaited();
    t->on_abandoned();
    if (counted)
      t->release();
  }
}

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_TASK_HPP
