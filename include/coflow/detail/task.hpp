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
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>

namespace coflow {
namespace detail {

class task_base;

/// The trampoline: every coroutine resumption runs inside a pump loop, and a
/// transfer of control (child start, child completion, an operation that
/// completes inside another body's run) queues the task instead of resuming
/// it. So the stack stays flat in every build type, whatever the compiler
/// does with symmetric transfer (the same idea as asio's
/// awaitable_thread::pump). The queue is intrusive (through the tasks), so
/// any number of completions delivered inline while one body runs are all
/// kept, in order, without allocating.
///
/// One exception, bounded: a child awaited at once runs nested inside its
/// parent's await_suspend, up to `max_nesting` levels, so that a child that
/// completes without suspending returns to its parent as a function call
/// does, without two trips through the loop.
///
/// A control call (pause, unpause, cancel) runs under a pump too, one that
/// posts what it collected instead of running it: an operation whose
/// cancellation handler completes it inline never runs coroutine code inside
/// cancel() (DESIGN.md §4).
struct pump
{
  static constexpr unsigned char max_nesting = 32;

  task_base* head = nullptr;
  task_base* tail = nullptr;
  bool posting = false;

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
      pump& self;
      ~leave()
      {
        current() = nullptr;
        self.abandon_queue();
      }
    } guard{self};
    std::forward<Function>(f)();
    self.drain();
  }

  /// Runs @p f (a control call) so that no coroutine code runs inside it:
  /// under the running pump (whose loop resumes what it queued after the
  /// current body suspends), or under a posting pump.
  template <class Function>
  static void run_control(Function&& f)
  {
    if (current())
    {
      std::forward<Function>(f)();
      return;
    }
    pump self;
    self.posting = true;
    current() = &self;
    struct leave
    {
      pump& self;
      ~leave()
      {
        current() = nullptr;
        self.post_queue();
      }
    } guard{self};
    std::forward<Function>(f)();
  }

  /// Queues @p t's frame for resumption: the caller hands over the running
  /// reference. A pump must be running on this thread.
  static void resume(task_base* t) noexcept;

private:
  void drain();
  void post_queue() noexcept;
  void abandon_queue() noexcept;
  task_base* pop() noexcept;
};

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
///
/// A token handed out by an await_suspend may be used on another thread
/// before that await_suspend has returned: it then never touches the frame,
/// and the suspending thread goes on with the body (see task_base's
/// hand-over). A token whose suspension failed (the initiation threw after
/// handing the token on) is stale: it holds a counted reference of its own,
/// and using or dropping it only releases that.
class resume_token
{
public:
  resume_token() noexcept = default;

  /// The running coroutine @p t suspends: its running reference moves into
  /// the token (no reference count change).
  static resume_token adopt(task_base* t) noexcept;

  resume_token(resume_token&& other) noexcept
    : task_(std::exchange(other.task_, nullptr)),
      tag_(other.tag_)
  {
  }
  resume_token& operator=(resume_token&& other) noexcept
  {
    if (this != &other)
    {
      if (task_)
        reset();
      task_ = std::exchange(other.task_, nullptr);
      tag_ = other.tag_;
    }
    return *this;
  }
  ~resume_token()
  {
    if (task_) // most tokens die moved-from
      reset();
  }

  explicit operator bool() const noexcept { return task_ != nullptr; }

  /// Called by a handler before it stores its result where the body will
  /// read it. @returns false if the token is stale: the awaiter it was made
  /// for is gone, and the handler must touch nothing of it (the token then
  /// only releases its reference).
  bool claim() noexcept;

  /// Resumes the coroutine (unless it is paused: then it is held), inside
  /// a pump. Claims first if claim() was not called.
  void resume() &&;

  /// Destroys the coroutine without resuming it (and, in a loop, the
  /// parents that waited on it).
  void reset() noexcept;

  /// Gives up the token; its reference becomes the running reference.
  task_base* detach() noexcept { return std::exchange(task_, nullptr); }

  task_base* get() const noexcept { return task_; }

private:
  friend class task_base;

  enum class claim_state : unsigned char { unclaimed, settled, early, stale };

  /// Whether dropping this token unused must abandon @p t (else it only
  /// releases what it holds, or hands the drop to a suspending thread).
  bool abandons(task_base* t) noexcept;
  void abandon_chain() noexcept;

  task_base* task_ = nullptr;
  /// The generation of the task's hand-over this token belongs to (a
  /// multiple of 8), and its claim_state in the low bits: one word, so that
  /// a token costs a move what a pointer and an int do.
  std::uint32_t tag_ = 0;

  std::uint32_t generation() const noexcept { return tag_ & ~7u; }
  claim_state state() const noexcept { return static_cast<claim_state>(tag_ & 7u); }
  void set_state(claim_state c) noexcept { tag_ = generation() | static_cast<std::uint32_t>(c); }
};

enum class control_op : unsigned char { pause, unpause, cancel };

/// The control operations that one thread's control call has yet to apply,
/// in order: the first control call on a thread drains it; the cascade it
/// causes is queued here instead of recursing (DESIGN.md §4: every cascade
/// runs in constant stack at any depth). Every queued task is kept alive by
/// the suspended frame that awaits it (no frame resumes during a control
/// call: resumptions are posted) or by the caller's handle.
class control_queue
{
public:
  static control_queue& of_this_thread() noexcept
  {
    static thread_local control_queue queue;
    return queue;
  }

  bool draining() const noexcept { return draining_; }

  void push(task_base* t, control_op op) { entries_.push_back({t, op}); }

  /// Applies @p op to @p t, then everything it queues. An exception from
  /// @p op itself reaches the caller (nothing else was queued); one from a
  /// forwarded operation is reported, and the rest of the cascade goes on.
  void run(task_base* t, control_op op);

private:
  struct entry
  {
    task_base* task;
    control_op op;
  };

  std::deque<entry> entries_;
  bool draining_ = false;
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
  // Each runs as a control call (pump::run_control): no coroutine code runs
  // inside it. A cascade goes through the thread's control queue: a forward
  // to a child (a pause, unpause or cancel of its task) made while a control
  // call runs is queued, not made in place, so a chain of any depth is
  // controlled in constant stack.

  void pause() { control(control_op::pause); }
  void unpause() { control(control_op::unpause); }
  void cancel() { control(control_op::cancel); }

  // --- suspension protocol, used by awaiters ------------------------------------
  //
  // An awaiter's await_suspend: suspend_on(this); begin_suspension(); hand a
  // resume_token to the operation; then `return end_suspension();` (or
  // fail_suspension() and rethrow, if the hand-over threw). Between begin and
  // end, the token may be used or dropped on any thread: it then leaves the
  // body to the suspending thread (a word of atomic state, the hand-over,
  // decides who goes on), so nothing of the frame or the task is touched by
  // two threads, and nothing after a successful end_suspension().

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

  /// The whole protocol for an awaiter: @p hand_over receives the token.
  template <class HandOver>
  bool suspend_with(awaited_control* control, HandOver&& hand_over)
  {
    suspend_on(control);
    leave_nesting();
    begin_suspension();
    try
    {
      std::forward<HandOver>(hand_over)(resume_token::adopt(this));
    }
    catch (...)
    {
      fail_suspension();
      throw;
    }
    return end_suspension();
  }

  void begin_suspension() noexcept
  {
    handoff_.store(generation() | suspending, std::memory_order_relaxed);
  }

  /// A token of this task is about to leave this thread (or to be held, for
  /// a release that may run on another): if it runs nested in its parent's
  /// await_suspend, it stops being nested, and every ancestor in the nest
  /// begins its suspension now, so that a completion on another thread
  /// leaves each of them to this thread (see start_inline). A child that
  /// finishes without that costs its parent no atomic at all.
  void leave_nesting() noexcept
  {
    for (task_base* t = this; t->inline_slot_;)
    {
      task_base* parent = t->continuation_.get();
      t->inline_slot_ = nullptr;
      parent->begin_suspension();
      t = parent;
    }
  }

  /// The hand-over returned. @returns true if the body stays suspended (the
  /// caller then touches nothing more), false if it goes on at once: the
  /// token was used before this (an inline completion, or one on another
  /// thread) and the body was not paused meanwhile.
  /// @throws std::logic_error if the token was dropped unused: nothing could
  /// ever resume the body.
  bool end_suspension()
  {
    std::uint32_t expected = generation() | suspending;
    if (handoff_.compare_exchange_strong(expected, generation() | settled,
            std::memory_order_acq_rel, std::memory_order_acquire)) [[likely]]
      return true;
    if ((expected & phase_mask) == settled)
      return true; // a nest whose tokens never left this thread
    expected = wait_for_claim(expected);
    handoff_.store(generation() | settled, std::memory_order_relaxed);
    if ((expected & phase_mask) == dropped)
    {
      suspension_failed();
      throw std::logic_error(
          "coflow: the awaited operation destroyed its handler without calling it");
    }
    // Resumed early: the running reference is back, with the result.
    if (held_by_pause())
    {
      hold(resume_token::adopt(this));
      return true;
    }
    return false;
  }

  /// The end of a start_inline() that leaves the parent suspended: it is
  /// no longer nested in its own parent (if it was), and its suspension
  /// ends as any other.
  bool leave_start_inline()
  {
    inline_slot_ = nullptr;
    return end_suspension();
  }

  /// The hand-over threw: the body goes on with the exception. A token that
  /// is still out there becomes stale (it gets a counted reference of its
  /// own); a result that arrived meanwhile is dropped.
  void fail_suspension() noexcept
  {
    add_ref(); // for a token still out there, before it can see it is stale
    std::uint32_t expected = generation() | suspending;
    const std::uint32_t next = generation() + generation_unit;
    if (!handoff_.compare_exchange_strong(expected, next | settled,
            std::memory_order_acq_rel, std::memory_order_acquire))
    {
      // The token was used or dropped: no stale one exists.
      (void)wait_for_claim(expected);
      handoff_.store(generation() | settled, std::memory_order_relaxed);
      refs_.fetch_sub(1, std::memory_order_relaxed); // never the last
    }
    suspension_failed();
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
      return pump::resume(this);
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
      return pump::resume(this);
    }
    finish_held();
  }

  ~task_base() = default;

  // --- the hand-over word: a generation and a phase ---------------------------
  static constexpr std::uint32_t settled = 0;    // no suspension in progress
  static constexpr std::uint32_t suspending = 1; // inside an await_suspend
  static constexpr std::uint32_t claimed = 2;    // a token stores its result
  static constexpr std::uint32_t resumed_early = 3;
  static constexpr std::uint32_t dropped = 4;
  static constexpr std::uint32_t phase_mask = 7;
  static constexpr std::uint32_t generation_unit = 8;

  /// The generation of this task's tokens; only a failed suspension changes
  /// it (read by the thread that owns the body, or by a token's holder).
  std::uint32_t generation() const noexcept
  {
    return handoff_.load(std::memory_order_relaxed) & ~phase_mask;
  }

  /// A token claimed the wake-up: wait the few instructions until it has
  /// stored its result. @returns the final phase word.
  std::uint32_t wait_for_claim(std::uint32_t word) const noexcept
  {
    while ((word & phase_mask) == claimed)
      word = handoff_.load(std::memory_order_acquire);
    return word;
  }

  void control(control_op op)
  {
    control_queue& queue = control_queue::of_this_thread();
    if (queue.draining())
      return queue.push(this, op);
    pump::run_control([&] { queue.run(this, op); });
  }

  void apply(control_op op)
  {
    switch (op)
    {
    case control_op::pause:
      return pause_now();
    case control_op::unpause:
      return unpause_now();
    case control_op::cancel:
      return cancel_now();
    }
  }

  void pause_now()
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

  void unpause_now()
  {
    if (pause_count() == 0)
      throw std::logic_error("coflow: unpause() without a matching pause()");
    if ((--control_ & ~cancel_bit) != 0)
      return;
    release_pause_target();
    release_held();
  }

  void cancel_now()
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

  /// The parent's running reference becomes this task's continuation.
  void adopt_continuation(task_base* parent) noexcept
  {
    assert(!continuation_);
    continuation_.task_ = parent; // as resume_token::adopt, in place
    continuation_.tag_ = parent->generation();
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
  /// The frame was abandoned: complete without a result. @returns the
  /// continuation (the parent's token), which the caller abandons next:
  /// a chain of any depth is destroyed in a loop, not by recursion.
  virtual resume_token on_abandoned() noexcept = 0;
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
    leave_nesting(); // its release may run on another thread
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

  /// Where a child running nested in its parent's await_suspend tells that
  /// it has finished and the parent goes on (see start_inline).
  enum class inline_result : unsigned char { waiting, goes_on };

  friend class resume_token;
  friend struct pump;
  friend class control_queue;

  std::atomic<unsigned> refs_{1};
  /// The hand-over of the current suspension (see begin_suspension()).
  std::atomic<std::uint32_t> handoff_{0};
  std::coroutine_handle<> frame_;
  awaited_control* awaited_ = nullptr;
  resume_token continuation_;
  std::unique_ptr<task_extras> extras_;
  /// The next task in the pump's queue.
  task_base* pump_next_ = nullptr;
  /// Set while this task runs nested in its parent's await_suspend and has
  /// not suspended since: points to the parent's stack.
  inline_result* inline_slot_ = nullptr;
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
};

inline void task_extras::cancel()
{
  owner_->cancel();
}

// --- control_queue ------------------------------------------------------------

inline void control_queue::run(task_base* t, control_op op)
{
  struct done_draining
  {
    control_queue& queue;
    ~done_draining()
    {
      queue.draining_ = false;
      queue.entries_.clear();
    }
  } guard{*this};
  draining_ = true;
  t->apply(op);
  while (!entries_.empty())
  {
    entry e = entries_.front();
    entries_.pop_front();
    try
    {
      e.task->apply(e.op);
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
  }
}

// --- pump ---------------------------------------------------------------------

inline void pump::resume(task_base* t) noexcept
{
  pump* p = current();
  assert(p);
  t->pump_next_ = nullptr;
  if (p->tail)
    p->tail->pump_next_ = t;
  else
    p->head = t;
  p->tail = t;
}

inline task_base* pump::pop() noexcept
{
  task_base* t = head;
  if (t)
  {
    head = t->pump_next_;
    if (!head)
      tail = nullptr;
  }
  return t;
}

inline void pump::drain()
{
  while (task_base* t = pop())
    t->frame_.resume(); // t may be gone once this returns
}

inline void pump::post_queue() noexcept
{
  while (task_base* t = pop())
  {
    // The task's running reference travels with the posted token; its
    // wake-up runs again there (and holds it, if a pause came meanwhile).
    try
    {
      t->post_resume(resume_token::adopt(t));
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
  }
}

inline void pump::abandon_queue() noexcept
{
  // Only reached if a resumed frame threw out of the loop (never, with
  // coflow's promises) or the loop was left by an exception: what is still
  // queued is posted, not lost.
  post_queue();
}

// --- resume_token -------------------------------------------------------------

inline resume_token resume_token::adopt(task_base* t) noexcept
{
  resume_token token;
  token.task_ = t;
  token.tag_ = t->generation(); // unclaimed
  return token;
}

inline bool resume_token::claim() noexcept
{
  if (state() != claim_state::unclaimed)
    return state() != claim_state::stale;
  std::uint32_t word = task_->handoff_.load(std::memory_order_acquire);
  for (;;)
  {
    if ((word & ~task_base::phase_mask) != generation())
    {
      set_state(claim_state::stale);
      return false;
    }
    if ((word & task_base::phase_mask) != task_base::suspending)
    {
      set_state(claim_state::settled);
      return true;
    }
    // Inside the await_suspend that handed this token out: claim the
    // wake-up; the suspending thread goes on with the body.
    if (task_->handoff_.compare_exchange_weak(word, generation() | task_base::claimed,
            std::memory_order_acquire, std::memory_order_acquire))
    {
      set_state(claim_state::early);
      return true;
    }
  }
}

inline void resume_token::resume() &&
{
  if (!task_)
    return;
  claim();
  switch (state())
  {
  case claim_state::early:
    // The result is stored: the suspending thread may read it now.
    task_->handoff_.store(generation() | task_base::resumed_early,
        std::memory_order_release);
    task_ = nullptr;
    return;
  case claim_state::stale:
    detach()->release();
    return;
  default:
    break;
  }
  set_state(claim_state::unclaimed);
  pump::run([this] {
    task_base* t = task_;
    // The reference travels on: held by a pause, or running.
    t->wake(std::move(*this));
  });
}

inline void resume_token::reset() noexcept
{
  abandon_chain();
}

inline bool resume_token::abandons(task_base* t) noexcept
{
  if (state() == claim_state::unclaimed)
  {
    std::uint32_t word = t->handoff_.load(std::memory_order_acquire);
    for (;;)
    {
      if ((word & ~task_base::phase_mask) != generation())
      {
        t->release(); // stale: only its own reference
        return false;
      }
      if ((word & task_base::phase_mask) != task_base::suspending)
        return true;
      // Inside the await_suspend that handed this token out: it throws.
      if (t->handoff_.compare_exchange_weak(word, generation() | task_base::dropped,
              std::memory_order_release, std::memory_order_acquire))
        return false;
    }
  }
  if (state() == claim_state::stale)
  {
    t->release();
    return false;
  }
  if (state() == claim_state::early)
  {
    // Claimed, then dropped before it stored a result (its handler threw):
    // the suspending thread reports it at the co_await.
    t->handoff_.store(generation() | task_base::dropped, std::memory_order_release);
    return false;
  }
  return true;
}

inline void resume_token::abandon_chain() noexcept
{
  // Unused: the coroutine can never be resumed. Destroy its frame, then,
  // through its continuation, its parents', one per round (on_abandoned
  // only moves the continuation out), so the stack stays flat. A borrowed
  // running reference is not released: the parent's handle, gone with the
  // parent's frame, was it (the task may go with that frame, next round).
  resume_token next = std::move(*this);
  while (next.task_)
  {
    task_base* t = next.task_;
    next.task_ = nullptr;
    if (!next.abandons(t))
      return;
    const bool counted = !t->borrowed_run_;
    t->forget_awaited();
    resume_token parent = t->on_abandoned();
    if (counted)
      t->release();
    next = std::move(parent);
  }
}

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_TASK_HPP
