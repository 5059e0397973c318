//
// coflow/detail/coroutine_state_base.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The identity of a running coroutine: its frame, pause count, cancel state,
// what it awaits right now (for the cascade), whom it resumes when done, and
// its result. A coroutine<T> handle refers to a coroutine state.
//

#ifndef COFLOW_DETAIL_COROUTINE_STATE_BASE_HPP
#define COFLOW_DETAIL_COROUTINE_STATE_BASE_HPP

#include <coflow/detail/await_site.hpp>
#include <coflow/detail/awaited_control.hpp>
#include <coflow/detail/waiter_registry.hpp>
#include <coflow/error.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cassert>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>
#include <vector>

namespace coflow {
namespace detail {

class coroutine_state_base;

#ifndef COFLOW_DETAIL_MAX_NESTING
/// How many children run nested below a body (see pump). Only tests change
/// it: the chaos stress test runs with 2, so that its trees, 8 deep, cross
/// the bound (and park) at every few levels.
#define COFLOW_DETAIL_MAX_NESTING 32
#endif

/// The trampoline: every coroutine resumption runs inside a pump loop, and a
/// transfer of control (child start, child completion, an operation that
/// completes inside another body's run) queues the coroutine state instead of resuming
/// it. So the stack stays flat in every build type, whatever the compiler
/// does with symmetric transfer (the same idea as asio's
/// awaitable_thread::pump). The queue is intrusive (through the coroutine states), so
/// any number of completions delivered inline while one body runs are all
/// kept, in order, without allocating.
///
/// One exception, bounded: a child awaited at once runs nested inside its
/// parent's await_suspend, up to `max_nesting` levels, so that a child that
/// completes without suspending returns to its parent as a function call
/// does, without two trips through the loop.
///
/// At that bound the child is queued on the pump instead, and the nest
/// unwinds to the loop: each body of it suspends, but stays `running`, owned
/// by this thread (it is parked, on the pump's `parked` stack), as it was
/// while nested. A child that then finishes into the innermost parked body
/// queues it on the pump without touching the state word, so a recursion of
/// any depth costs per level what a nested one does. When the loop runs out
/// of work, the parked bodies still there (a descendant suspended for real)
/// are published as suspended, innermost first, as their await_suspends
/// would have done (see coroutine_state_base::publish_parked()).
///
/// A control call (pause, unpause, cancel) runs under a pump too, one that
/// posts what it collected instead of running it: an operation whose
/// cancellation handler completes it inline never runs coroutine code inside
/// cancel() (DESIGN.md §4).
struct pump
{
  static constexpr unsigned char max_nesting = COFLOW_DETAIL_MAX_NESTING;

  coroutine_state_base* head = nullptr;
  coroutine_state_base* tail = nullptr;
  /// The parked bodies, innermost first (linked through pump_next_).
  coroutine_state_base* parked = nullptr;
  /// Where the nest now unwinding parks its next body: below the one it
  /// parked before (its child), above those parked earlier.
  coroutine_state_base** park_at = &parked;
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
    run_as<false>(std::forward<Function>(f));
  }

  /// Runs @p f (a control call) so that no coroutine code runs inside it:
  /// under the running pump (whose loop resumes what it queued after the
  /// current body suspends), or under a posting pump.
  template <class Function>
  static void run_control(Function&& f)
  {
    run_as<true>(std::forward<Function>(f));
  }

  /// Queues @p t's frame for resumption: the caller hands over the running
  /// reference. A pump must be running on this thread.
  static void resume(coroutine_state_base* t) noexcept;

private:
  /// run() (a loop that resumes what @p f queued) or run_control() (@p
  /// Posting: what it queued is posted). Under a running pump, @p f just
  /// runs. Whatever is still queued when the pump is left (only if a frame
  /// threw out of the loop, never with coflow's promises) is posted, not
  /// lost.
  template <bool Posting, class Function>
  static void run_as(Function&& f)
  {
    if (current())
    {
      std::forward<Function>(f)();
      return;
    }
    pump self;
    self.posting = Posting;
    current() = &self;
    struct leave
    {
      pump& self;
      ~leave()
      {
        self.publish_parked(); // may queue (still the current pump)
        current() = nullptr;
        self.post_queue();
      }
    } guard{self};
    std::forward<Function>(f)();
    if constexpr (!Posting)
      self.drain();
  }

  void drain();
  void publish_parked() noexcept;
  void post_queue() noexcept;
  coroutine_state_base* pop() noexcept;
};

/// The right to resume a suspended coroutine: exactly one exists while it is
/// suspended, held by whatever will resume it (an Asio handler, a deferred's
/// consumer link, a child coroutine state). Destroying it unused abandons the coroutine:
/// its frame is destroyed, and so is the token of its parent. This is how a
/// context shutdown destroys suspended frames, as asio's awaitable_thread.
///
/// The token carries the coroutine's running reference: counted for a
/// spawned coroutine, borrowed for a child started inline (whose awaiting
/// parent holds its handle until the child has finished).
///
/// A token handed out by an await_suspend may be used on another thread
/// before that await_suspend has returned: it then never touches the frame,
/// and the suspending thread goes on with the body (see coroutine_state_base's
/// hand-over). A token whose suspension failed (the initiation threw after
/// handing the token on) is stale: it holds a counted reference of its own,
/// and using or dropping it only releases that.
class resume_token
{
public:
  resume_token() noexcept = default;

  /// The running coroutine @p t suspends: its running reference moves into
  /// the token (no reference count change).
  static resume_token adopt(coroutine_state_base* t) noexcept;

  resume_token(resume_token&& other) noexcept
    : coro_(std::exchange(other.coro_, nullptr)),
      tag_(other.tag_)
  {
  }
  resume_token& operator=(resume_token&& other) noexcept
  {
    if (this != &other)
    {
      if (coro_)
        reset();
      coro_ = std::exchange(other.coro_, nullptr);
      tag_ = other.tag_;
    }
    return *this;
  }
  ~resume_token()
  {
    if (coro_) // most tokens die moved-from
      reset();
  }

  explicit operator bool() const noexcept { return coro_ != nullptr; }

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
  coroutine_state_base* detach() noexcept { return std::exchange(coro_, nullptr); }

  coroutine_state_base* get() const noexcept { return coro_; }

private:
  friend class coroutine_state_base;

  enum class claim_state : unsigned char { unclaimed, settled, early, stale };

  /// Whether dropping this token unused must abandon @p t (else it only
  /// releases what it holds, or hands the drop to a suspending thread).
  bool abandons(coroutine_state_base* t) noexcept;
  /// resume() of a token claimed inside its await_suspend, or stale.
  void resume_claimed() noexcept;
  void abandon_chain() noexcept;

  coroutine_state_base* coro_ = nullptr;
  /// The generation of the coroutine state's suspensions this token belongs to (29
  /// bits, see coroutine_state_base), and its claim_state in the low bits: one word,
  /// so that a token costs a move what a pointer and an int do.
  std::uint32_t tag_ = 0;

  static std::uint32_t tag_of(std::uint32_t generation) noexcept { return generation << 3; }
  std::uint32_t generation() const noexcept { return tag_ >> 3; }
  claim_state state() const noexcept { return static_cast<claim_state>(tag_ & 7u); }
  void set_state(claim_state c) noexcept
  {
    tag_ = (tag_ & ~7u) | static_cast<std::uint32_t>(c);
  }
};

enum class control_op : unsigned char { pause, unpause, cancel };

/// The control operations that one thread's control call has yet to apply,
/// in order: the first control call on a thread drains it; the cascade it
/// causes is queued here instead of recursing (DESIGN.md §4: every cascade
/// runs in constant stack at any depth). Every queued coroutine state is kept alive by
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

  /// Queues @p op for @p t: intrusive (through the coroutine state), so a cascade
  /// never allocates, and a coroutine state is queued once with its pending
  /// operations counted (applied pauses first, then unpauses, then the
  /// cancel: the same end state as any order of arrival).
  void push(coroutine_state_base* t, control_op op) noexcept;

  /// Applies @p op to @p t, then everything it queues. An exception from
  /// @p op itself reaches the caller (nothing else was queued); one from a
  /// forwarded operation is reported, and the rest of the cascade goes on.
  void run(coroutine_state_base* t, control_op op);

  /// Whether the operation being applied was forwarded by a cascade (not
  /// asked for by a caller, who could receive an exception).
  bool applying_forwarded() const noexcept { return forwarded_; }

  /// @p t, which this thread has just locked, stays locked until what it
  /// forwards has been applied: its body cannot resume meanwhile, so the
  /// children it forwards to stay alive and no other thread's control call
  /// can overtake the forward (another thread's call records itself in the
  /// word, and is forwarded before the unlock).
  void keep_locked(coroutine_state_base* t) noexcept;

  bool has_pending() const noexcept { return head_ != nullptr; }

private:
  static void apply_reported(coroutine_state_base* t, control_op op) noexcept;
  void unlock_all() noexcept;

  coroutine_state_base* head_ = nullptr;
  coroutine_state_base* tail_ = nullptr;
  /// The coroutine states this thread holds locked, last locked first.
  coroutine_state_base* locked_ = nullptr;
  bool draining_ = false;
  bool forwarded_ = false;
};

/// What a coroutine state needs only once it is paused, held or shared: built on first
/// use, so a child awaited at once never pays for it. The typed coroutine state adds
/// its own part (see coroutine_state<T, Executor>::extras).
class coroutine_extras : public registered_state
{
public:
  coroutine_extras() = default;
  virtual ~coroutine_extras() { unregister_waiters(); }

  using registered_state::register_waiters;
  using registered_state::unregister_waiters;
  using registered_state::under_registry_lock;

  /// Whether the registration stays for the whole run (a root's).
  bool listed_as_root() const noexcept
  {
#ifndef COFLOW_NO_INTROSPECTION
    return root_owner != nullptr;
#else
    return false;
#endif
  }

  /// A wake-up, a start or an end held by a pause (registered with the
  /// context's waiter registry meanwhile).
  resume_token held;
  /// What the body's co_await throws instead of a result (failed_bit).
  std::exception_ptr resume_error;
  /// See coroutine_state_base::lent_cancel_epoch().
  std::atomic<std::uint32_t> lent_cancel_epoch{0};
#ifndef COFLOW_NO_INTROSPECTION
  /// A spawned coroutine that runs: its coroutine state. The extras are then
  /// registered with the context's waiter registry for the whole run (a
  /// held wake-up registers them anyway), which lists the roots of
  /// await_forest(). (8 bytes: the extras' allocation keeps its size class.)
  coroutine_state_base* root_owner = nullptr;

  coroutine_state_base* listed_root() const noexcept override { return root_owner; }
#endif

private:
  void abandon_waiters() noexcept override
  {
    resume_token token = std::move(held);
    token.reset(); // may destroy the coroutine state, and this with it: nothing after
  }
};

/// Where a coroutine is in its life. Each stage follows the one before,
/// except that a tail call's next state, held by a pause before it runs,
/// goes back from `in_body` to `started` (so a cancel meanwhile never runs
/// it).
enum class stage : unsigned char
{
  created,   ///< its frame exists; nothing has started it
  started,   ///< spawned, awaited or adopted: the body is due, not entered
  in_body,   ///< the body runs, or is suspended
  body_done, ///< the body has ended; its result waits (held by a pause, or
             ///< a tail call's target has not delivered it yet)
  finished,  ///< the result is delivered
};

/// The executor-independent part of a coroutine state: pause / cancel cascade, the
/// frame, the continuation and the reference count.
///
/// One atomic word (the state) orders everything that two threads may do to
/// a coroutine at once: its generation, its pause count and cancel request,
/// and who owns what it awaits (the phase). While a thread runs the body, or
/// is inside one of its await_suspends, the phase is `running` and that
/// thread owns the coroutine state: a control call from another thread then only
/// records its change in the word, and the owner forwards it when the body
/// suspends. Once suspended, a control call locks the coroutine state (`locked`) to
/// forward to what the body awaits, and a wake-up takes it back
/// (`suspended` to `running`), so what the body awaits is never touched by
/// two threads, nor after the body has left it. A token used while its
/// await_suspend still runs finds `running` and claims the wake-up: the
/// suspending thread goes on with the body (DESIGN.md §4, lifetime and
/// threads). A child awaited at once pays no atomic for any of this.
class coroutine_state_base
{
public:
  coroutine_state_base() = default;
  coroutine_state_base(const coroutine_state_base&) = delete;
  coroutine_state_base& operator=(const coroutine_state_base&) = delete;

  // --- reference counting (handles) ----------------------------------------
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept
  {
    if (release_last())
      destroy_self();
  }

  /// Adds a reference unless the last one has gone (a reader of the
  /// registry's roots, which a root leaves before its running reference
  /// goes: a net for a root that would still be listed).
  bool try_add_ref() noexcept
  {
    unsigned n = refs_.load(std::memory_order_relaxed);
    while (n != 0)
      if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed))
        return true;
    return false;
  }

  /// Drops a reference. @returns true if it was the last one.
  bool release_last() noexcept
  {
    // The only reference: nobody can copy it concurrently, so no
    // read-modify-write is needed (the common case of an awaited child).
    return refs_.load(std::memory_order_acquire) == 1
        || refs_.fetch_sub(1, std::memory_order_acq_rel) == 1;
  }

  // --- the state word ------------------------------------------------------
  using word_type = std::uint64_t;
  enum : word_type
  {
    running = 0,       // a thread owns the coroutine state (runs it, or suspends it)
    unstarted = 1,     // not started: control calls only record
    suspended = 2,     // nobody owns it: a control call may lock it
    locked = 3,        // a control call forwards to what the body awaits
    claimed = 4,       // a token stores its result (inside await_suspend)
    resumed_early = 5, // ... and has stored it: the owner goes on
    dropped = 6,       // ... or was dropped unused: the owner throws
    phase_mask = 7,
    wake_pending = 8,  // a token came while locked: the locker resumes
    cancel_bit = 16,
    failed_bit = 32,   // the body resumes with extras' resume_error
    pause_unit = 64,
    generation_shift = 35,
  };
  static constexpr word_type pause_mask =
      ((word_type(1) << generation_shift) - 1) & ~(pause_unit - 1);
  static constexpr word_type max_pauses = pause_mask / pause_unit;

  static constexpr word_type phase(word_type w) noexcept { return w & phase_mask; }
  static constexpr bool is_cancelled(word_type w) noexcept { return (w & cancel_bit) != 0; }
  static constexpr unsigned pauses(word_type w) noexcept
  {
    return static_cast<unsigned>((w & pause_mask) / pause_unit);
  }
  /// Paused and not cancelled: a wake-up, a start or an end is held.
  static constexpr bool holds(word_type w) noexcept
  {
    return (w & (pause_mask | cancel_bit)) != 0 && !is_cancelled(w);
  }
  static constexpr std::uint32_t generation_of(word_type w) noexcept
  {
    return static_cast<std::uint32_t>(w >> generation_shift);
  }

  [[gnu::always_inline]] word_type state() const noexcept
  {
    return state_.load(std::memory_order_acquire);
  }

  // --- state ---------------------------------------------------------------
  stage current_stage() const noexcept { return stage_.load(std::memory_order_relaxed); }
  bool started() const noexcept { return current_stage() >= stage::started; }
  bool finished() const noexcept { return current_stage() == stage::finished; }
  /// The result exists: delivered, or held by a pause (Twisted's `called`).
  /// After a tail call, the result is the next state's, once it is there.
  bool produced() const noexcept
  {
    return current_stage() == stage::finished
        || (current_stage() == stage::body_done && (!awaited_ || (extras_ptr() && extras_ptr()->held)));
  }
  [[gnu::always_inline]] bool cancel_requested() const noexcept { return is_cancelled(state()); }
  [[gnu::always_inline]] unsigned pause_count() const noexcept { return pauses(state()); }
  [[gnu::always_inline]] bool held_by_pause() const noexcept { return holds(state()); }
  /// Whether a wake-up would resume the body now (not held by a pause).
  [[gnu::always_inline]] bool runnable() const noexcept { return !held_by_pause(); }
  /// Neither paused nor cancelled.
  [[gnu::always_inline]] bool uncontrolled() const noexcept
  {
    return (state() & (pause_mask | cancel_bit)) == 0;
  }
  /// How many children run nested below this body, down to the pump.
  unsigned char nesting() const noexcept { return nesting_; }

  // --- flow control ----------------------------------------------------------
  // Safe from any thread. Each runs as a control call (pump::run_control):
  // no coroutine code runs inside it. A cascade goes through the thread's
  // control queue: a forward to a child (a pause, unpause or cancel of its
  // coroutine state) made while a control call runs is queued, not made in place, so a
  // chain of any depth is controlled in constant stack.

  void pause() { control(control_op::pause); }
  void unpause() { control(control_op::unpause); }
  void cancel() { control(control_op::cancel); }

  // --- suspension protocol, used by awaiters ------------------------------------
  //
  // An awaiter's await_suspend: suspend_with(this, hand_over): hand a
  // resume_token to the operation, then end_suspension(). Until then the
  // phase stays `running`: a token used or dropped on any thread meanwhile
  // claims the wake-up and leaves the body to this thread, so nothing of the
  // frame or the coroutine state is touched by two threads, and nothing after a
  // successful end_suspension().

  // --- introspection ---------------------------------------------------------

  /// The body is at the co_await of @p at (await_transform: the body runs).
  [[gnu::always_inline]] void at_await(await_site at) noexcept
  {
#ifndef COFLOW_NO_INTROSPECTION
    await_site_ = at;
#else
    (void)at;
#endif
  }

  /// A tail call made @p next's frame this coroutine's body.
  void adopt_function_site(const coroutine_state_base& next) noexcept
  {
    function_site_ = next.function_site_;
  }

  /// The body suspends on @p control: it becomes the cascade's target.
  void suspend_on(awaited_control* control)
  {
    awaited_ = control;
    if (held_by_pause() && !paused_target_)
    {
      paused_target_ = control;
      control->pause();
    }
  }

  /// The whole protocol for an awaiter: @p hand_over receives the token.
  template <class HandOver>
  bool suspend_with(awaited_control* control, HandOver&& hand_over)
  {
    suspend_on(control);
    leave_nesting();
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

  /// A token of this coroutine state is about to leave this thread (or to be held,
  /// for a release that may run on another): if the coroutine state runs nested in its
  /// parent's await_suspend, it stops being nested, and so does every
  /// ancestor of the nest (each is then suspending as any other).
  void leave_nesting() noexcept
  {
    for (coroutine_state_base* t = this; t->inline_slot_;)
    {
      coroutine_state_base* parent = t->continuation_.get();
      t->inline_slot_ = nullptr;
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
    word_type w = state_.load(std::memory_order_acquire);
    // The common case: nothing recorded, nothing forwarded, no token used.
    if ((w & (phase_mask | pause_mask | cancel_bit)) == running && !pause_forwarded()
        && state_.compare_exchange_strong(w, w | suspended, std::memory_order_acq_rel,
            std::memory_order_acquire)) [[likely]]
      return true;
    return end_suspension_slow(w);
  }

  /// A pause was forwarded to what the body awaits (and not released).
  [[gnu::always_inline]] bool pause_forwarded() const noexcept
  {
    return paused_target_ != nullptr;
  }

  /// end_suspension() beyond the common case.
  [[gnu::noinline]] bool end_suspension_slow(word_type w)
  {
    for (;;)
    {
      while (phase(w) == claimed)
        w = state_.load(std::memory_order_acquire);
      if (phase(w) != running)
        break; // used or dropped inside the hand-over
      // Forward what control calls recorded meanwhile, then let go.
      forward_pending(w);
      if (state_.compare_exchange_weak(w, (w & ~phase_mask) | suspended,
              std::memory_order_acq_rel, std::memory_order_acquire)) [[likely]]
        return true;
    }
    // The body is ours again.
    const word_type outcome = phase(w);
    w = state_.fetch_sub(outcome, std::memory_order_acquire) - outcome; // running
    if (outcome == dropped)
    {
      suspension_failed();
      throw std::logic_error(
          "coflow: the awaited operation destroyed its handler without calling it");
    }
    // Resumed early: the running reference is back, with the result.
    cancel_forwarded_ = false;
    return holds(w) && hold_self();
  }

  /// The end of a start_inline() that leaves the parent suspended.
  bool leave_start_inline()
  {
    inline_slot_ = nullptr;
    return end_suspension();
  }

  /// The end of a start_inline() whose child was queued at the nesting
  /// bound (@p innermost), or whose child parked: the body parks (see pump)
  /// instead of publishing its suspension, and so does the parent below it
  /// on the stack, told through its slot. Under a posting pump (never a body's),
  /// as leave_start_inline().
  bool park_start_inline(bool innermost)
  {
    pump* p = pump::current();
    if (p->posting) [[unlikely]]
      return leave_start_inline();
    if (inline_slot_)
      *std::exchange(inline_slot_, nullptr) = inline_result::parked;
    if (innermost)
      p->park_at = &p->parked;
    pump_next_ = *p->park_at;
    *p->park_at = this;
    p->park_at = &pump_next_;
    return true;
  }

  /// A finished child whose parent is the innermost body parked on this
  /// thread's pump, and runnable: the parent is queued on the pump (it
  /// resumes after the child's frame has flowed off, with its running
  /// reference), as a nested parent goes on by returning. @returns false
  /// otherwise: the continuation is resumed as any other.
  bool resume_parked_parent() noexcept
  {
    coroutine_state_base* parent = continuation_.get();
    pump* p = pump::current();
    if (!parent || !p || p->parked != parent || !parent->runnable())
      return false;
    (void)continuation_.detach();
    p->parked = parent->pump_next_;
    parent->nesting_ = 0;
    pump::resume(parent);
    return true;
  }

  /// The pump ran out of work with this body parked: it publishes the
  /// suspension, as its await_suspend would have (forwarding what control
  /// calls recorded meanwhile), or goes on now if its child's token came
  /// meanwhile from another thread.
  void publish_parked() noexcept
  {
    try
    {
      if (!end_suspension())
      {
        nesting_ = 0;
        pump::resume(this); // resumed early, not held: the body goes on
      }
      return;
    }
    catch (...)
    {
      // The child's token was dropped unused: the body resumes with the
      // error at its co_await, as an await_suspend that throws.
      try
      {
        ensure_extras_base().resume_error = std::current_exception();
        state_.fetch_or(failed_bit, std::memory_order_acq_rel);
        nesting_ = 0;
        pump::resume(this);
        return;
      }
      catch (...)
      {
        report_unhandled_error(std::current_exception());
      }
    }
    // Out of memory for the error: nothing can resume the body. It is
    // abandoned, as by its dropped token, and its parent's token with it.
    const bool counted = !borrowed_run_;
    forget_awaited();
    resume_token parent = on_abandoned();
    if (counted)
      release();
    parent.reset();
  }

  /// The hand-over threw: the body goes on with the exception. A token that
  /// is still out there becomes stale (it gets a counted reference of its
  /// own); a result that arrived meanwhile is dropped.
  void fail_suspension() noexcept
  {
    add_ref(); // for a token still out there, before it can see it is stale
    word_type w = state_.load(std::memory_order_acquire);
    for (;;)
    {
      while (phase(w) == claimed)
        w = state_.load(std::memory_order_acquire);
      if (phase(w) != running)
      {
        // The token was used or dropped: no stale one exists.
        state_.fetch_sub(phase(w), std::memory_order_acquire); // running
        refs_.fetch_sub(1, std::memory_order_relaxed); // never the last
        break;
      }
      if (state_.compare_exchange_weak(w, w + (word_type(1) << generation_shift),
              std::memory_order_acq_rel, std::memory_order_acquire))
        break;
    }
    suspension_failed();
  }

  /// The body resumes from its suspension point. A pause forwarded to what
  /// it leaves is released (it is gone after this, and the next suspension
  /// forwards the pause anew), as after a failed suspension. Normally the
  /// unpause that let the body go on released it already; not when the
  /// body went on without having suspended (an operation completed inline,
  /// after an unpause recorded meanwhile; a failed hand-over), nor when a
  /// pause could not hold the wake-up (out of memory). A pause target is
  /// only ever what the body awaits (awaited_).
  [[gnu::always_inline]] void resumed() noexcept
  {
    if (paused_target_) [[unlikely]]
      release_pause_target_noexcept();
    awaited_ = nullptr;
  }

  /// Locks a suspended coroutine state, to change what it awaits (a collapsing chain
  /// of tail calls): its body cannot resume meanwhile, and control calls
  /// only record themselves. @returns false if it is not suspended.
  bool try_lock_suspended() noexcept
  {
    word_type w = state_.load(std::memory_order_acquire);
    while (phase(w) == suspended)
      if (state_.compare_exchange_weak(w, (w & ~phase_mask) | locked,
              std::memory_order_acq_rel, std::memory_order_acquire))
        return true;
    return false;
  }

  /// Unlocks after try_lock_suspended(), forwarding what was recorded
  /// meanwhile, and posting a wake-up that came meanwhile.
  void unlock_locked() noexcept
  {
    while (!try_unlock(true))
    {
    }
  }

  /// The awaits that lent a cancel to the executor (see operation_awaiter)
  /// count their ends here: a lent cancel that finds the count changed knows
  /// that the await it was meant for is over.
  /// Builds the extras (where the count lives) if needed.
  std::uint32_t lent_cancel_epoch()
  {
    return ensure_extras_base().lent_cancel_epoch.load(std::memory_order_acquire);
  }
  /// Once lent_cancel_epoch() has been read.
  std::uint32_t lent_cancel_epoch_now() const noexcept
  {
    return extras_ptr()->lent_cancel_epoch.load(std::memory_order_acquire);
  }
  void end_lent_cancel_epoch() noexcept
  {
    extras_ptr()->lent_cancel_epoch.fetch_add(1, std::memory_order_release);
  }

  /// Whether a control call has locked this coroutine state to forward to
  /// what it awaits: until it unlocks, what it forwarded (queued on that
  /// thread) may still be applied to the children it awaits.
  bool locked_for_control() const noexcept { return phase(state()) == locked; }

  /// Whether this coroutine state's pause was forwarded to @p control.
  bool forwarded_pause_to(const awaited_control* control) const noexcept
  {
    return paused_target_ == control;
  }

  /// What the suspended body awaits (read by the handler of its token).
  awaited_control* awaited() const noexcept { return awaited_; }

  /// The coroutine's executor (a `const Executor*` of the typed coroutine state):
  /// here, so that what completes an operation reads it knowing the
  /// executor's type alone (see operation_handler).
  const void* executor_address() const noexcept { return executor_; }

  /// The body goes on without having suspended (the hand-over failed): as
  /// any await that ends (see resumed()).
  void suspension_failed() noexcept { resumed(); }

  /// Whether waiting on @p waiter's completion here would close a cycle:
  /// @p waiter is this coroutine state, or what this coroutine state waits on waits on it, and so
  /// on. Only follows coroutine states of the caller's executor (no other is read).
  bool waits_on(const coroutine_state_base* waiter) const noexcept
  {
    if (this == waiter)
      return true;
    if (!awaited_)
      return false; // the common case (a spawned, not yet running state)
    // Depth first. A chain awaits one coroutine per level, walked in a
    // loop; a node that waits on several children keeps the others on a
    // stack (which never allocates for a chain).
    struct walk final : awaited_visitor
    {
      const coroutine_state_base* next = nullptr;
      std::optional<std::vector<const coroutine_state_base*>> others; // built for a fan-in only

      void operator()(const coroutine_state_base* awaited) noexcept override
      {
        if (!next)
          next = awaited;
        else
          try
          {
            if (!others)
              others.emplace();
            others->push_back(awaited);
          }
          catch (...)
          {
            // Out of memory: that branch is not searched; a cycle through
            // it then hangs instead of failing with logic_error.
          }
      }
    } w;
    // A bound on the work of one check, which runs at each await of a
    // started child or of a deferred view, and at each tail call: a graph
    // larger than this is not searched to its end.
    constexpr int max_hops = 100000;
    const coroutine_state_base* t = this;
    for (int hops = 0; hops < max_hops; ++hops)
    {
      if (t == waiter)
        return true;
      w.next = nullptr;
      if (t->awaited_)
        t->awaited_->for_each_awaited(w);
      if (!w.next)
      {
        if (!w.others || w.others->empty())
          return false;
        w.next = w.others->back();
        w.others->pop_back();
      }
      t = w.next;
    }
    return false;
  }

  /// Throws cancelled_error if a cancel was requested (sticky).
  [[gnu::always_inline]] void throw_if_cancelled()
  {
    // Thrown here, in the body's frame, not in a function of its own: a
    // cancel unwinds every level of a chain, and each frame between the
    // throw and the body's handler costs the unwinder thousands of
    // instructions.
    if (state() & (cancel_bit | failed_bit)) [[unlikely]]
      std::rethrow_exception(resume_error());
  }

  /// throw_if_cancelled() for an await that a cancel does not stop (a
  /// shield): only the error of a handler dropped unused.
  void throw_if_failed()
  {
    if (state() & failed_bit) [[unlikely]]
    {
      state_.fetch_and(~word_type(failed_bit), std::memory_order_acq_rel);
      std::rethrow_exception(std::exchange(extras_ptr()->resume_error, nullptr));
    }
  }

  /// What throw_if_cancelled() throws: the cancel, or the error its awaited
  /// operation left instead of a result (a handler dropped).
  [[gnu::noinline]] std::exception_ptr resume_error() noexcept
  {
    if (state() & failed_bit)
    {
      state_.fetch_and(~word_type(failed_bit), std::memory_order_acq_rel);
      std::exception_ptr e = std::exchange(extras_ptr()->resume_error, nullptr);
      if (!cancel_requested())
        return e;
    }
    return shared_cancelled_error();
  }

  /// The token of this suspended body was dropped without being used, and
  /// not by the context's shutdown: nothing will ever resume it, so it is
  /// resumed now (posted) with std::logic_error at its co_await; its frame
  /// unwinds and its consumers and parent receive what it then does.
  /// @returns false if that cannot be done (out of memory): then abandoned.
  bool resume_with_dropped_handler() noexcept
  {
    try
    {
      // A service built after the registry (a strand's, a timer's) shuts
      // down before it, and destroys handlers before the registry can say
      // so. A resumption posted here that is dropped in turn (failed_bit
      // still set) can only have been discarded by a shutdown: abandoned,
      // not posted again (a shut-down strand drops posts at once: no end).
      if (context_shutting_down(context()) || (state() & failed_bit))
        return false;
      coroutine_extras& x = ensure_extras_base();
      x.resume_error = std::make_exception_ptr(std::logic_error(
          "coflow: the awaited operation destroyed its handler without calling it"));
      state_.fetch_or(failed_bit, std::memory_order_acq_rel);
      post_resume(resume_token::adopt(this)); // the dropped token's reference
      return true;
    }
    catch (...)
    {
      // Out of memory for the error or its post: the body is abandoned,
      // and its consumers with it, unless a level parked above it takes
      // the error (publish_parked()). Not silently: the unhandled-error
      // handler hears of it.
      report_unhandled_error(std::current_exception());
      return false;
    }
  }

  /// Called by a resume_token, inside a pump: take the coroutine state (unless a
  /// control call has it locked: it then resumes it), and resume the frame,
  /// or hold it while paused.
  void wake(resume_token token)
  {
    word_type w = state_.load(std::memory_order_acquire);
    if ((w & (phase_mask | pause_mask | cancel_bit)) == suspended && current_stage() == stage::in_body
        && state_.compare_exchange_strong(w, w & ~phase_mask, std::memory_order_acq_rel,
            std::memory_order_acquire)) [[likely]]
    {
      // The common case: a running body resumes from a suspension.
      (void)token.detach(); // the reference is now the running reference
      nesting_ = 0;
      cancel_forwarded_ = false; // to the awaiter it leaves
      return pump::resume(this);
    }
    wake_contended(std::move(token), w);
  }

  /// wake() beyond the common case.
  [[gnu::noinline]] void wake_contended(resume_token token, word_type w)
  {
    for (;;)
    {
      if (phase(w) == locked)
      {
        // The locker resumes it when it is done (release_ownership()).
        if (state_.compare_exchange_weak(w, w | wake_pending, std::memory_order_acq_rel,
                std::memory_order_acquire))
        {
          (void)token.detach(); // the running reference stays with the coroutine state
          return;
        }
        continue;
      }
      assert(phase(w) == suspended || phase(w) == unstarted);
      if (state_.compare_exchange_weak(w, (w & ~phase_mask) | running,
              std::memory_order_acq_rel, std::memory_order_acquire))
        break;
    }
    cancel_forwarded_ = false; // to the awaiter it leaves
    if (!holds(w) && current_stage() == stage::in_body)
    {
      // The common case: a running body resumes from a suspension.
      (void)token.detach(); // the reference is now the running reference
      nesting_ = 0;
      return pump::resume(this);
    }
    wake_slow(std::move(token), w);
  }

protected:
  /// wake() beyond the common case; this thread owns the coroutine state.
  void wake_slow(resume_token token, word_type w)
  {
    if (holds(w) && hold(token))
      return;
    (void)token.detach();
    if (current_stage() < stage::body_done)
    {
      if (current_stage() < stage::in_body)
      {
        set_stage(stage::in_body);
        if (is_cancelled(w))
          return finish_unstarted();
      }
      nesting_ = 0;
      return pump::resume(this);
    }
    finish_held();
  }

  ~coroutine_state_base() { delete extras_.load(std::memory_order_relaxed); }

  /// The generation of this coroutine state's tokens; only a failed suspension changes
  /// it.
  std::uint32_t generation() const noexcept
  {
    return generation_of(state_.load(std::memory_order_relaxed));
  }

  void control(control_op op)
  {
    control_queue& queue = control_queue::of_this_thread();
    if (queue.draining())
      return queue.push(this, op);
    pump::run_control([&] { queue.run(this, op); });
  }

  /// Applies @p op: records it in the word; if nobody owns the coroutine state, locks
  /// it to forward the change to what the body awaits.
  void apply(control_op op)
  {
    if (op == control_op::pause)
    {
      // The extras hold a wake-up that comes while paused: built before
      // the count (all or nothing). A forwarded pause that cannot build
      // them still counts: the extras are tried again when needed.
      if (control_queue::of_this_thread().applying_forwarded())
      {
        try
        {
          (void)ensure_extras_base();
        }
        catch (...)
        {
        }
      }
      else
        (void)ensure_extras_base();
    }
    word_type w = state_.load(std::memory_order_acquire);
    for (;;)
    {
      word_type next = w;
      switch (op)
      {
      case control_op::pause:
        if (pauses(w) == max_pauses)
          throw std::length_error("coflow: too many pause() calls");
        next += pause_unit;
        break;
      case control_op::unpause:
        if (pauses(w) == 0)
          throw std::logic_error("coflow: unpause() without a matching pause()");
        next -= pause_unit;
        break;
      case control_op::cancel:
        if (is_cancelled(w))
          return;
        if (phase(w) == suspended)
        {
          // A produced result, held by a pause, stays held: decided with
          // the coroutine state locked.
          if (!state_.compare_exchange_weak(w, (w & ~phase_mask) | locked,
                  std::memory_order_acq_rel, std::memory_order_acquire))
            continue;
          if (!produced())
            state_.fetch_or(cancel_bit, std::memory_order_acq_rel);
          return control_queue::of_this_thread().keep_locked(this);
        }
        next |= cancel_bit;
        break;
      }
      if (phase(w) == suspended)
        next = (next & ~phase_mask) | locked;
      if (state_.compare_exchange_weak(w, next, std::memory_order_acq_rel,
              std::memory_order_acquire))
        break;
    }
    if (phase(w) == suspended) // locked now: forwarded, then released, by the queue
      control_queue::of_this_thread().keep_locked(this);
  }

  void set_stage(stage s) noexcept { stage_.store(s, std::memory_order_relaxed); }

  /// A spawned coroutine state's start is about to be posted: its token takes it.
  void mark_unstarted() noexcept
  {
    word_type w = state_.load(std::memory_order_acquire);
    while (!state_.compare_exchange_weak(w, (w & ~phase_mask) | unstarted,
        std::memory_order_acq_rel, std::memory_order_acquire))
    {
    }
  }

  /// The owner (or the locker) of the coroutine state lets it go to @p to (suspended),
  /// when no token of it can be out (held, locked, or the end of a body):
  /// first it forwards to what the body awaits whatever the word says that
  /// was not forwarded yet (a pause, an unpause, a cancel recorded by
  /// control calls meanwhile), and releases a held wake-up that no pause
  /// holds any more; then it publishes @p to, unless the word changed
  /// meanwhile (then once more). A wake-up that came while locked is posted.
  /// @returns true if the body stays suspended; false if the held wake-up
  /// that forward_pending() released (an unpause came meanwhile) was used at
  /// once on another thread, which found the body still owned here and left
  /// it to this thread (claimed early): the body goes on, owned here.
  bool release_ownership(word_type w, word_type to)
  {
    for (;;)
    {
      forward_pending(w);
      const word_type next = (w & ~(phase_mask | wake_pending)) | to;
      if (state_.compare_exchange_weak(w, next, std::memory_order_acq_rel,
              std::memory_order_acquire))
      {
        if (w & wake_pending)
          post_resume_noexcept(resume_token::adopt(this));
        return true;
      }
      if (phase(w) == running)
        continue; // a control call recorded itself: forwarded next round
      // Publishing `suspended` now would lose that wake-up for good.
      while (phase(w) == claimed)
        w = state_.load(std::memory_order_acquire);
      const word_type outcome = phase(w); // resumed_early, or dropped (its post failed)
      state_.fetch_sub(outcome, std::memory_order_acquire); // running
      cancel_forwarded_ = false;
      return false;
    }
  }

  /// A locked coroutine state (see control_queue::keep_locked()): forwards what the
  /// word asks for; @returns true once unlocked, false if it stays locked
  /// (the forwards it made are queued, or the word changed meanwhile).
  bool try_unlock(bool queue_empty)
  {
    word_type w = state();
    forward_pending(w);
    if (!queue_empty && control_queue::of_this_thread().has_pending())
      return false; // the forwards it queued are applied first
    if (!state_.compare_exchange_strong(w, (w & ~(phase_mask | wake_pending)) | suspended,
            std::memory_order_acq_rel, std::memory_order_acquire))
      return false;
    if (w & wake_pending)
      post_resume_noexcept(resume_token::adopt(this));
    return true;
  }

  /// What release_ownership() forwards; the caller owns the coroutine state.
  void forward_pending(word_type w)
  {
    coroutine_extras* x = extras_ptr();
    if (holds(w))
    {
      if (awaited_ && !paused_target_)
      {
        paused_target_ = awaited_;
        forward(&awaited_control::pause, awaited_);
      }
      return;
    }
    // Neither paused nor held: release what a pause forwarded or holds.
    if (paused_target_)
      forward(&awaited_control::unpause, std::exchange(paused_target_, nullptr));
    if (is_cancelled(w) && awaited_ && !cancel_forwarded_ && !produced())
    {
      cancel_forwarded_ = true;
      forward(&awaited_control::cancel, awaited_);
    }
    if (x && x->held)
    {
      if (!x->listed_as_root())
        x->unregister_waiters();
      post_resume_noexcept(std::move(x->held));
    }
  }

  static void forward(void (awaited_control::*op)(), awaited_control* target) noexcept
  {
    try
    {
      (target->*op)();
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
  }

  void post_resume_noexcept(resume_token token) noexcept
  {
    try
    {
      post_resume(std::move(token));
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
  }

  /// The parent's running reference becomes this coroutine state's continuation.
  void adopt_continuation(coroutine_state_base* parent) noexcept
  {
    assert(!continuation_);
    continuation_.coro_ = parent; // as resume_token::adopt, in place
    continuation_.tag_ = resume_token::tag_of(parent->generation());
  }

  [[gnu::always_inline]] coroutine_extras* extras_ptr() const noexcept
  {
    return extras_.load(std::memory_order_acquire);
  }

  /// The extras of this coroutine state, built on first use (by a control call on any
  /// thread, or by the owner: the first to publish wins).
  coroutine_extras& ensure_extras_base()
  {
    if (coroutine_extras* x = extras_ptr())
      return *x;
    std::unique_ptr<coroutine_extras> made = make_extras();
    coroutine_extras* expected = nullptr;
    if (extras_.compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel,
            std::memory_order_acquire))
      return *made.release();
    return *expected;
  }

  /// Destroys the coroutine state now (its last reference is gone).
  virtual void destroy_now() noexcept = 0;

  /// Destroys @p t, whose extras may hold the last handles of other coroutine states
  /// (a chain of tail calls holds each next state so): a coroutine state whose
  /// destruction is reached while another is being destroyed on this
  /// thread is queued (through pump_next_, unused once a coroutine state dies) and
  /// destroyed by the outermost call, so a chain of any length goes in
  /// constant stack.
  static void reap(coroutine_state_base* t) noexcept
  {
    struct reaper
    {
      coroutine_state_base* head = nullptr;
      bool active = false;
    };
    static thread_local reaper r;
    if (r.active)
    {
      t->pump_next_ = r.head;
      r.head = t;
      return;
    }
    r.active = true;
    t->destroy_now();
    while (coroutine_state_base* next = r.head)
    {
      r.head = next->pump_next_;
      next->destroy_now();
    }
    r.active = false;
  }

  /// Builds the (typed) extras.
  virtual std::unique_ptr<coroutine_extras> make_extras() = 0;
  /// Frees this object (refcount reached zero).
  virtual void destroy_self() noexcept = 0;
  /// Posts @p token's resumption to the executor.
  virtual void post_resume(resume_token token) = 0;
  /// The execution context, for the waiter registry.
  virtual boost::asio::execution_context& context() = 0;
  /// Whether this started coroutine runs on @p ex (introspection reads only
  /// those: await_forest(executor)).
  virtual bool runs_on(const boost::asio::any_io_executor& ex) const noexcept = 0;
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
  /// A pause holds what the running reference would do next (a wake-up,
  /// a start, the end): see hold(). @returns false if it cannot.
  bool hold_self() noexcept
  {
    resume_token token = resume_token::adopt(this);
    if (hold(token))
      return true;
    (void)token.detach(); // the reference stays the running one
    return false;
  }

  /// A pause holds @p token (moved from); the context's shutdown may
  /// destroy it meanwhile. The owner lets the coroutine state go: an unpause or a
  /// cancel that came meanwhile releases it at once. @returns false, and
  /// leaves @p token, if the extras that hold it cannot be built (out of
  /// memory; a forwarded pause does not build them): the pause is then not
  /// honoured, and the failure is reported. @returns false too if an
  /// unpause or cancel released the token before the coroutine state was let go and
  /// it came back at once (see release_ownership()): the caller goes on.
  bool hold(resume_token& token) noexcept
  {
    coroutine_extras* x = extras_ptr();
    try
    {
      if (!x)
        x = &ensure_extras_base();
      x->register_waiters(context());
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
      return false;
    }
    if (awaited_)
      awaited_->completed(); // a wake-up: held, while control calls may come
    leave_nesting(); // its release may run on another thread
    x->held = std::move(token);
    return release_ownership(state(), suspended); // false: unpaused meanwhile, goes on
  }

  void release_pause_target_noexcept() noexcept
  {
    if (awaited_control* target = std::exchange(paused_target_, nullptr))
      forward(&awaited_control::unpause, target);
  }

  /// The frame was destroyed without resuming: what it awaited is gone with
  /// it, and no later pause or cancel may reach it.
  void forget_awaited() noexcept
  {
    awaited_ = nullptr;
    paused_target_ = nullptr;
  }

  /// Destroys the frame, once.
  void destroy_frame() noexcept
  {
    if (auto f = std::exchange(frame_, nullptr))
      f.destroy();
  }

  /// Where a child running nested in its parent's await_suspend tells that
  /// it has finished and the parent goes on (see start_inline).
  enum class inline_result : unsigned char { waiting, goes_on, parked };

  friend class resume_token;
  friend struct pump;
  friend class control_queue;
  friend class await_tree_reader;

  // The layout keeps the members a new coroutine state zeroes next to each other, so
  // that building a child (in every coroutine call) takes a few wide stores.
  std::atomic<unsigned> refs_{1};
  /// The operations this coroutine state has pending in a thread's control queue (see
  /// control_queue::push).
  std::uint16_t pending_pauses_ = 0;
  std::uint16_t pending_unpauses_ = 0;
  /// See "the state word". An unstarted coroutine is owned by whoever holds
  /// it (control calls only record), until spawn() makes it `unstarted`.
  std::atomic<word_type> state_{running};
  std::atomic<coroutine_extras*> extras_{nullptr};
  std::coroutine_handle<> frame_;
  awaited_control* awaited_ = nullptr;
  /// What a pause was forwarded to, to release exactly that.
  awaited_control* paused_target_ = nullptr;
  /// Set while this coroutine state runs nested in its parent's await_suspend and has
  /// not suspended since: points to the parent's stack.
  inline_result* inline_slot_ = nullptr;
  resume_token continuation_;
  /// The executor of the typed coroutine state: its own (in the extras), its
  /// parent's or its node's; null while it has none.
  const void* executor_ = nullptr;
  /// Introspection (DESIGN.md §8): the coroutine function, and the co_await
  /// where the body is (neither with COFLOW_NO_INTROSPECTION).
  [[no_unique_address]] function_site function_site_;
  // The links of the intrusive lists are not initialised (three stores less
  // per coroutine): each is written when its coroutine state joins the list,
  // and read only while it is in it.
  /// The next coroutine state in the pump's queue, or parked.
  coroutine_state_base* pump_next_;
  /// The next coroutine state in this thread's control queue.
  coroutine_state_base* control_next_;
  /// The next coroutine state that this thread's control queue holds locked.
  coroutine_state_base* locked_next_;
#ifndef COFLOW_NO_INTROSPECTION
  /// Not initialised (a store less per coroutine): read only while the body
  /// is suspended, and every suspension of a body is a co_await, whose
  /// await_transform sets it first.
  await_site await_site_;
#endif
  bool pending_cancel_ = false;
  bool control_queued_ = false;
  /// Read by other threads (a parent on another executor asks whether a
  /// child has started) while the owner moves it on: a relaxed atomic
  /// (plain loads and stores on x86). See current_stage(), set_stage().
  std::atomic<stage> stage_{stage::created};
  /// The cancel was forwarded to what the body awaits now.
  bool cancel_forwarded_ = false;
  /// How many children run nested below this body's frame on the stack,
  /// down to the pump's loop (see pump::max_nesting).
  unsigned char nesting_ = 0;
  /// The running reference is borrowed from the awaiting parent's handle.
  bool borrowed_run_ = false;
  /// The typed coroutine state's value is constructed (see
  /// coroutine_state::value_). With the typed coroutine state's first flag,
  /// which fills the base's tail padding, the flags above make 8 bytes,
  /// zeroed with one store when a child is built (in every coroutine call).
  bool has_value_ = false;
};

// --- control_queue ------------------------------------------------------------

inline void control_queue::push(coroutine_state_base* t, control_op op) noexcept
{
  switch (op)
  {
  case control_op::pause:
    ++t->pending_pauses_;
    break;
  case control_op::unpause:
    ++t->pending_unpauses_;
    break;
  case control_op::cancel:
    t->pending_cancel_ = true;
    break;
  }
  if (t->control_queued_)
    return;
  t->control_queued_ = true;
  t->control_next_ = nullptr;
  if (tail_)
    tail_->control_next_ = t;
  else
    head_ = t;
  tail_ = t;
}

inline void control_queue::keep_locked(coroutine_state_base* t) noexcept
{
  t->locked_next_ = locked_;
  locked_ = t;
}

inline void control_queue::run(coroutine_state_base* t, control_op op)
{
  struct done_draining
  {
    control_queue& queue;
    ~done_draining()
    {
      queue.draining_ = false;
      queue.forwarded_ = false;
      // Only reached with entries left if the first operation threw, and
      // then it queued nothing.
      while (coroutine_state_base* left = queue.head_)
      {
        queue.head_ = left->control_next_;
        left->control_queued_ = false;
        left->pending_pauses_ = left->pending_unpauses_ = 0;
        left->pending_cancel_ = false;
      }
      queue.tail_ = nullptr;
    }
  } guard{*this};
  draining_ = true;
  try
  {
    t->apply(op);
  }
  catch (...)
  {
    unlock_all();
    throw;
  }
  forwarded_ = true;
  for (;;)
  {
    if (coroutine_state_base* next = head_)
    {
      head_ = next->control_next_;
      if (!head_)
        tail_ = nullptr;
      next->control_queued_ = false;
      // Pauses first: a pause and its unpause queued together balance. The
      // coroutine state is alive: the locked parent that forwarded to it holds it.
      const unsigned pauses = std::exchange(next->pending_pauses_, 0);
      const unsigned unpauses = std::exchange(next->pending_unpauses_, 0);
      const bool cancel = std::exchange(next->pending_cancel_, false);
      for (unsigned i = 0; i < pauses; ++i)
        apply_reported(next, control_op::pause);
      for (unsigned i = 0; i < unpauses; ++i)
        apply_reported(next, control_op::unpause);
      if (cancel)
        apply_reported(next, control_op::cancel);
      continue;
    }
    coroutine_state_base* locked = locked_;
    if (!locked)
      break;
    // The innermost first; its forwards (if new ones came) before its unlock.
    locked_ = locked->locked_next_;
    if (!locked->try_unlock(false))
      keep_locked(locked);
  }
}

inline void control_queue::unlock_all() noexcept
{
  // The first operation threw after locking: nothing was forwarded yet.
  while (coroutine_state_base* locked = locked_)
  {
    locked_ = locked->locked_next_;
    while (!locked->try_unlock(true))
    {
    }
  }
}

inline void control_queue::apply_reported(coroutine_state_base* t, control_op op) noexcept
{
  try
  {
    t->apply(op);
  }
  catch (...)
  {
    report_unhandled_error(std::current_exception());
  }
}

// --- pump ---------------------------------------------------------------------

inline void pump::resume(coroutine_state_base* t) noexcept
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

inline coroutine_state_base* pump::pop() noexcept
{
  coroutine_state_base* t = head;
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
  for (;;)
  {
    while (coroutine_state_base* t = pop())
      t->frame_.resume(); // t may be gone once this returns
    if (!parked) [[likely]]
      return;
    publish_parked(); // may queue bodies that go on
  }
}

inline void pump::publish_parked() noexcept
{
  while (coroutine_state_base* t = parked)
  {
    parked = t->pump_next_;
    t->publish_parked();
  }
}

inline void pump::post_queue() noexcept
{
  while (coroutine_state_base* t = pop())
  {
    // The coroutine state's running reference travels with the posted token; its
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

// --- resume_token -------------------------------------------------------------

inline resume_token resume_token::adopt(coroutine_state_base* t) noexcept
{
  resume_token token;
  token.coro_ = t;
  token.tag_ = tag_of(t->generation()); // unclaimed
  return token;
}

inline bool resume_token::claim() noexcept
{
  if (state() != claim_state::unclaimed)
    return state() != claim_state::stale;
  coroutine_state_base::word_type w = coro_->state_.load(std::memory_order_acquire);
  for (;;)
  {
    if (coroutine_state_base::generation_of(w) != generation())
    {
      set_state(claim_state::stale);
      return false;
    }
    if (coroutine_state_base::phase(w) != coroutine_state_base::running)
    {
      set_state(claim_state::settled); // suspended (or locked): wake() takes it
      return true;
    }
    // Inside the await_suspend that handed this token out: claim the
    // wake-up; the suspending thread goes on with the body.
    if (coro_->state_.compare_exchange_weak(w, (w & ~coroutine_state_base::phase_mask) | coroutine_state_base::claimed,
            std::memory_order_acquire, std::memory_order_acquire))
    {
      set_state(claim_state::early);
      return true;
    }
  }
}

inline void resume_token::resume() &&
{
  if (!coro_)
    return;
  if (state() == claim_state::unclaimed)
    claim();
  if (state() != claim_state::settled) [[unlikely]]
    return resume_claimed();
  set_state(claim_state::unclaimed);
  coroutine_state_base* t = coro_;
  pump* p = pump::current();
  if (!p)
    return pump::run([this, t] { t->wake(std::move(*this)); });
  if (p->posting) [[unlikely]]
    return t->post_resume_noexcept(std::move(*this)); // inside a control call
  // The reference travels on: held by a pause, or running.
  t->wake(std::move(*this));
}

inline void resume_token::resume_claimed() noexcept
{
  if (state() == claim_state::early)
  {
    // The result is stored: the suspending thread may read it now, and go
    // on with the body, which may free this token (a node that waits on
    // several children keeps its awaiter's token in its frame): nothing of
    // the token is touched after the release.
    coroutine_state_base* t = detach();
    t->state_.fetch_add(coroutine_state_base::resumed_early - coroutine_state_base::claimed,
        std::memory_order_release);
    return;
  }
  detach()->release(); // stale: only its own reference
}

inline void resume_token::reset() noexcept
{
  abandon_chain();
}

inline bool resume_token::abandons(coroutine_state_base* t) noexcept
{
  if (state() == claim_state::unclaimed)
  {
    coroutine_state_base::word_type w = t->state_.load(std::memory_order_acquire);
    for (;;)
    {
      if (coroutine_state_base::generation_of(w) != generation())
      {
        t->release(); // stale: only its own reference
        return false;
      }
      if (coroutine_state_base::phase(w) != coroutine_state_base::running)
        return true;
      // Inside the await_suspend that handed this token out: it throws.
      if (t->state_.compare_exchange_weak(w, (w & ~coroutine_state_base::phase_mask) | coroutine_state_base::dropped,
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
    t->state_.fetch_add(coroutine_state_base::dropped - coroutine_state_base::claimed, std::memory_order_release);
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
  // parent's frame, was it (the coroutine state may go with that frame, next round).
  resume_token next = std::move(*this);
  bool first = true;
  while (next.coro_)
  {
    coroutine_state_base* t = next.coro_;
    next.coro_ = nullptr;
    if (!next.abandons(t))
      return;
    // The token that went first: dropped by its operation, or by shutdown.
    if (std::exchange(first, false) && t->current_stage() == stage::in_body
        && t->resume_with_dropped_handler())
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

#endif // COFLOW_DETAIL_COROUTINE_STATE_BASE_HPP
