//
// coflow/detail/coroutine_state.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// coroutine_state<T, Executor>: the typed part of a coroutine's identity: executor,
// result, and the shared state built lazily for deferred-style consumers.
//

#ifndef COFLOW_DETAIL_COROUTINE_STATE_HPP
#define COFLOW_DETAIL_COROUTINE_STATE_HPP

#include <coflow/detail/deferred_state.hpp>
#include <coflow/detail/frame_block.hpp>
#include <coflow/detail/result_sink.hpp>
#include <coflow/detail/coroutine_state_base.hpp>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>

#include <cassert>
#include <memory>
#include <optional>
#include <variant>

namespace coflow {
namespace detail {

/// What a coroutine waits on after a tail call to a started coroutine or a
/// deferred: the cascade's target until it delivers the coroutine's result.
template <class T>
class tail_source : public awaited_control, public result_sink<T>
{
public:
  virtual ~tail_source() = default;

  /// Waits for the result; @p token resumes the coroutine state when it is there.
  virtual void wait(resume_token token) = 0;

  /// The result, once the token has been resumed.
  virtual outcome<T> take() = 0;

  /// A coroutine that this source waits on directly (see
  /// coroutine_state::set_tail_sink()) delivers its result here.
  void receive(outcome<T> result) override { direct_.emplace(std::move(result)); }

protected:
  std::optional<outcome<T>> direct_;
};

template <class T, class Executor>
class coroutine_state final : public coroutine_state_base
{
public:
  using result_type = T;
  using executor_type = Executor;
  using value_type = value_of<T>;
  using shared_state_type = deferred_state<T, Executor>;

  coroutine_state(std::coroutine_handle<> frame, function_site site) noexcept
  {
    frame_ = frame;
    function_site_ = site;
  }

  ~coroutine_state() { reset_value(); }

  /// The executor that executor_address() points to.
  const Executor* typed_executor() const noexcept { return static_cast<const Executor*>(executor_); }

  /// The executor of a started coroutine.
  const Executor& executor() const noexcept
  {
    assert(executor_);
    return *typed_executor();
  }

  /// The executor, for a handle that may refer to an unstarted coroutine.
  const Executor& checked_executor() const
  {
    if (!executor_)
    {
      if (started()) // keep_executor() ran out of memory
        throw std::bad_alloc();
      throw std::logic_error(
          "coflow: the coroutine has not started: spawn it or await it first");
    }
    return *typed_executor();
  }

  /// Spawn: the start is posted, and the coroutine is outstanding work of
  /// its executor until it completes (as co_spawn's), so run() waits for it.
  void start_posted(Executor ex)
  {
    prepare_posted_start(std::move(ex));
    post_start();
  }

  /// start_posted() in two steps, so that a consumer can be attached in
  /// between: once the start is posted, another thread may run the body.
  void prepare_posted_start(Executor ex)
  {
    mark_started();
    mark_unstarted();
    extras& x = ensure_extras();
    executor_ = &x.own_executor.emplace(std::move(ex));
    // So that a handler dropped outside the context's shutdown is told
    // from one that the shutdown drops (resume_with_dropped_handler()); and
    // a root of await_forest() until it finishes.
#ifndef COFLOW_NO_INTROSPECTION
    x.root_owner = this;
    x.register_waiters(context()); // builds the registry
#else
    ensure_waiter_registry(context());
#endif
    x.work.emplace(boost::asio::prefer(
        *typed_executor(), boost::asio::execution::outstanding_work.tracked));
  }

  void post_start()
  {
    add_ref(); // the running reference
    post_resume(resume_token::adopt(this));
  }

  /// A branch of a node that waits on several children (a combinator):
  /// like prepare_posted_start(), for a start by start_queued() on the
  /// executor of the node's coroutine, @p node_executor, which it borrows
  /// when the types match (that coroutine awaits the branch, so it outlives
  /// its run), with its result going to @p sink. No work is tracked and no
  /// registry looked up: the node's coroutine, suspended on it, already
  /// keeps its context running and has its registry.
  template <class NodeExecutor>
  void prepare_branch(const NodeExecutor& node_executor, result_sink<T>* sink)
  {
    mark_started();
    mark_unstarted();
    if constexpr (std::is_same_v<NodeExecutor, Executor>)
      executor_ = &node_executor; // no extras needed
    else
      executor_ = &ensure_extras().own_executor.emplace(node_executor);
    sink_ = sink;
  }

  /// Undoes prepare_branch() when the node cannot start (out of memory):
  /// the coroutine refers to nothing of the node; it stays marked started,
  /// so it never runs, and goes with its last handle.
  void unprepare_branch() noexcept
  {
    sink_ = nullptr;
    if (!(typed_extras() && typed_extras()->own_executor))
      executor_ = nullptr;
  }

  /// post_start() from a handler already on the executor, inside a pump:
  /// the start is queued on the pump and runs after the caller returns (a
  /// node that starts several branches from one posted handler).
  void start_queued()
  {
    assert(pump::current());
    add_ref(); // the running reference
    resume_token::adopt(this).resume();
  }

  /// A child awaited at once, on its parent's executor, which it borrows
  /// when the types match (the parent outlives the child's run), and on the
  /// parent's running reference. Runs nested when the pump allows it.
  /// @returns false if the child has already finished: the parent goes on
  /// without suspending.
  template <class ParentExecutor>
  bool start_inline(const ParentExecutor& parent_executor, coroutine_state_base* parent)
  {
    assert(!started()); // the awaiter has checked
    if constexpr (std::is_same_v<ParentExecutor, Executor>)
      executor_ = &parent_executor;
    else
      executor_ = &ensure_extras().own_executor.emplace(parent_executor);
    set_stage(stage::started);
    adopt_continuation(parent);
    borrowed_run_ = true;
    // An unstarted coroutine is `running`, owned by whoever holds it: this
    // thread, which starts it now (control calls only record).
    const word_type w = state();
    if ((w & (pause_mask | cancel_bit)) != 0) [[unlikely]] // paused or cancelled before
    {
      wake_slow(resume_token::adopt(this), w); // held, or never run
      return parent->leave_start_inline();
    }
    set_stage(stage::in_body);
    assert(pump::current());
    if (parent->nesting() == pump::max_nesting)
    {
      pump::resume(this); // nesting_ stays 0: the pump's loop runs it
      return parent->park_start_inline(true);
    }
    nesting_ = static_cast<unsigned char>(parent->nesting() + 1);
    inline_result result = inline_result::waiting;
    inline_slot_ = &result;
    frame_.resume();
    // Nothing of this coroutine state is touched from here: once it has suspended,
    // another thread may finish it, and its parent's token then finds the
    // parent owned by this thread (it is `running`) and leaves it to it.
    if (result == inline_result::goes_on)
      return false; // finished, the parent not paused: it goes on
    if (result == inline_result::parked)
      return parent->park_start_inline(false);
    return parent->leave_start_inline();
  }

  // --- results -------------------------------------------------------------

  template <class V>
  void set_value(V&& v)
  {
    emplace_value(std::forward<V>(v));
  }

  void set_error(std::exception_ptr e) noexcept { error_ = std::move(e); }

  /// The outcome for the (single) continuation: moved out.
  outcome<T> take_outcome()
  {
    if (error_)
      return outcome<T>(std::in_place_index<1>, error_);
    return outcome<T>(std::in_place_index<0>, std::move(value_));
  }

  /// The value for the awaiting parent, or the error thrown: moved out
  /// when the parent holds the only handle, copied when another handle may
  /// still read it (an lvalue awaited, a handle kept).
  [[gnu::always_inline]] T take_value()
  {
    if (error_) [[unlikely]]
      std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<T>)
    {
      if constexpr (copyable_v<value_type>)
        if (refs_.load(std::memory_order_acquire) != 1)
          return value_;
      return std::move(value_);
    }
  }

  /// The shared state through which deferred-style consumers wait; built on
  /// first use. A cancel through it cancels the coroutine, whose unwinding
  /// then fires it.
  const std::shared_ptr<shared_state_type>& shared()
  {
    const Executor& ex = checked_executor();
    extras& x = ensure_extras();
    if (!x.shared)
    {
      auto state = std::make_shared<shared_state_type>(ex);
      state->set_canceller(std::make_unique<shared_canceller>(this));
      state->set_internal_producer(); // only the body fires it
      if (finished())
        state->settle(copy_outcome()); // a copy that throws: to this consumer, nothing built
      x.shared = std::move(state);
      if (finished())
        error_unreported_ = false; // the state reports it now, if nobody takes it
    }
    return x.shared;
  }

  /// The last reference is gone.
  void destroy() noexcept
  {
    if (this->extras_ptr()) [[unlikely]]
      return reap(this); // it may hold other coroutine states (a tail call's next state)
    destroy_without_extras();
  }

  /// Destroys the coroutine state at once (see destroy()).
  void destroy_now() noexcept override
  {
    if (this->extras_ptr()) [[unlikely]]
      return destroy_fully();
    destroy_without_extras();
  }

private:
  void destroy_without_extras() noexcept
  {
    if (!frame_ && !continuation_ && !error_) [[likely]]
    {
      // The common end of a child: nothing is left to release but the
      // value, and every other member's destructor does nothing now, so
      // none runs ([basic.life]: the storage is released without them).
      if constexpr (!std::is_trivially_destructible_v<value_type>)
        reset_value();
      return frame_block::of(this)->state_destroyed();
    }
    destroy_fully();
  }

  /// destroy_now() with something to release (out of line: the common end
  /// above then needs no stack frame).
  [[gnu::noinline]] void destroy_fully() noexcept
  {
    if (error_unreported_)
      report_unhandled_error(error_);
    destroy_frame();
    if (extras* x = typed_extras(); x && x->shared)
      if (auto* c = static_cast<shared_canceller*>(x->shared->canceller()))
        c->detach();
    frame_block* block = frame_block::of(this);
    this->~coroutine_state();
    block->state_destroyed();
  }

public:
  // --- tail calls ----------------------------------------------------------

  /// Whether this coroutine state's frame can become the tail-calling coroutine's body:
  /// unstarted, held by nobody but the tail call, and neither paused nor
  /// cancelled (adopting would replace its own control state with the
  /// caller's, and lose that pause or cancel).
  bool adoptable() const noexcept
  {
    return !started() && this->pause_count() == 0 && !this->cancel_requested()
        && refs_.load(std::memory_order_acquire) == 1;
  }

  /// Hands this unstarted coroutine state's frame over (see tail_call_awaiter).
  std::coroutine_handle<> give_frame() noexcept
  {
    set_stage(stage::started); // and goes with the tail call
    return std::exchange(frame_, nullptr);
  }

  /// The running body ends in a tail call to @p next_frame (already bound to
  /// this coroutine state): the running frame is destroyed first, its locals' cleanup
  /// runs, then the next state starts through the pump, unless a pause holds
  /// it. Runs inside the running frame's await_suspend: nothing of that
  /// frame is touched after its destruction.
  void swap_frame(std::coroutine_handle<> next_frame) noexcept
  {
    resumed();
    inline_slot_ = nullptr; // the next state runs from this thread's pump
    std::exchange(frame_, next_frame).destroy();
    if (held_by_pause())
    {
      set_stage(stage::started); // so a cancel meanwhile never runs it
      if (hold_self())
        return;
      set_stage(stage::in_body);
    }
    nesting_ = 0;
    pump::resume(this);
  }

  /// Whether a result_sink on the same executor can wait on this coroutine
  /// directly (the result delivered into the sink, see set_sink()): a
  /// spawned coroutine that has not delivered yet and that nobody awaits as
  /// a child. Such a wait costs no shared state, and lets a chain of tail
  /// calls collapse (see lock_tail_sink()).
  bool accepts_sink() const noexcept
  {
    const extras* x = typed_extras();
    const stage now = this->current_stage(); // one load: the stage is atomic
    return x && now >= stage::started && now != stage::finished && !borrowed_run_
        && !continuation_ && !sink_;
  }

  /// The result goes to @p sink, which is told when it is there (or that
  /// it never comes, see result_sink). After accepts_sink(), before the
  /// start is posted or on the coroutine's executor.
  void set_sink(result_sink<T>* sink) noexcept { sink_ = sink; }

  /// The result goes to @p sink, and @p token (the tail-calling coroutine)
  /// is resumed as this coroutine's continuation.
  void set_tail_sink(tail_source<T>* sink, resume_token token) noexcept
  {
    set_sink(sink);
    continuation_ = std::move(token);
  }

  /// The collapse of a chain of tail calls (DESIGN.md, tail_call): this
  /// body ends in a tail call, and only the tail source of the coroutine
  /// waiting on this one holds it (no other handle, no other consumer, no
  /// pause but the one that coroutine forwarded, no cancel). That source
  /// can then wait on the next state itself, and this coroutine state go.
  /// @returns the source, with the waiting coroutine state locked (until
  /// end_in_collapse()), or nullptr: no collapse.
  tail_source<T>* lock_tail_sink() noexcept
  {
    extras* x = typed_extras();
    // A sink with a continuation is a tail source (see set_tail_sink()).
    if (!x || !sink_ || x->shared || borrowed_run_ || !continuation_
        || cancel_requested() || refs_.load(std::memory_order_acquire) != 2)
      return nullptr;
    auto* source = static_cast<tail_source<T>*>(sink_);
    coroutine_state_base* waiting = continuation_.get();
    if (!waiting->try_lock_suspended())
      return nullptr; // running, or a control call is forwarding through it
    if (pause_count() != (waiting->forwarded_pause_to(source) ? 1u : 0u))
    {
      waiting->unlock_locked();
      return nullptr;
    }
    return source;
  }

  /// After lock_tail_sink(): the source now holds @p next's handle (and
  /// this state is held by its caller's). The waiting coroutine's token
  /// moves to @p next, which delivers into the source; a pause it had
  /// forwarded is forwarded to @p next; it is unlocked; this frame goes. The
  /// caller's handle of this state and the running reference go next: so
  /// does this state.
  void end_in_collapse(coroutine_state* next) noexcept
  {
    auto* sink = static_cast<tail_source<T>*>(std::exchange(sink_, nullptr));
    coroutine_state_base* waiting = continuation_.get();
    next->set_tail_sink(sink, std::move(continuation_));
    if (waiting->forwarded_pause_to(sink))
      forward(&awaited_control::pause, sink);
    waiting->unlock_locked();
    leave_nesting();
    set_stage(stage::finished);
    std::exchange(frame_, nullptr).destroy(); // with it, the caller's handle of this coroutine state
    release(); // the running reference, the last one
  }

  /// The running body ends in a tail call to a started coroutine or a
  /// deferred: the frame goes, and @p source delivers the result. What may
  /// fail before the frame goes (building the extras, forwarding a pause)
  /// throws at the body's co_await; what fails after (waiting on the next
  /// state) fails the coroutine with that error.
  void end_in_tail(std::unique_ptr<tail_source<T>> source)
  {
    tail_source<T>& s = *source;
    ensure_extras().tail = std::move(source);
    try
    {
      suspend_on(&s); // pause and cancel now go to the next state
    }
    catch (...)
    {
      suspension_failed();
      typed_extras()->tail.reset();
      throw;
    }
    leave_nesting(); // the token goes to the next state
    std::exchange(frame_, nullptr).destroy();
    set_stage(stage::body_done);
    wait_for_tail(s);
  }

  // --- completion ----------------------------------------------------------

  /// The body reached its final suspend point; its frame goes right after,
  /// by itself. (Always inlined into the final suspend: it runs at the end
  /// of every child.)
  [[gnu::always_inline]] void on_body_done() noexcept
  {
    set_stage(stage::body_done);
    if (uncontrolled() && inline_slot_
        && !extras_ptr() && refs_.load(std::memory_order_relaxed) == 1
        && continuation_.get()->runnable())
    {
      // The common case, a child that nobody else sees finishing under its
      // parent's await_suspend: the parent goes on by returning from it,
      // with its running reference, and borrows nothing beyond this point.
      frame_ = nullptr;
      set_stage(stage::finished);
      (void)continuation_.detach();
      *std::exchange(inline_slot_, nullptr) = inline_result::goes_on;
      return;
    }
    finish_body(std::exchange(frame_, nullptr));
  }

private:
  class shared_canceller final : public canceller_base<shared_state_type>
  {
  public:
    explicit shared_canceller(coroutine_state* t) noexcept : coro_(t) {}
    void cancel(shared_state_type&) override
    {
      if (coro_)
        coro_->cancel();
    }
    bool settles_later() const noexcept override { return coro_ != nullptr; }
    const coroutine_state_base* producer() const noexcept override { return coro_; }
    void detach() noexcept { coro_ = nullptr; }

  private:
    coroutine_state* coro_;
  };

  using work_type = std::decay_t<decltype(boost::asio::prefer(
      std::declval<const Executor&>(),
      boost::asio::execution::outstanding_work.tracked))>;

  /// What a child awaited at once never needs: allocated on first use.
  struct extras : coroutine_extras
  {
    /// User-provided: make_unique's value-initialisation would zero the
    /// whole block first (the members initialise themselves).
    extras() noexcept {}
    /// Leaves the registry before any part is destroyed: a reader of the
    /// registry (await_forest, on another strand) calls listed_root()
    /// under its lock, and must not see the object change type meanwhile.
    ~extras() override { unregister_waiters(); }

    std::optional<Executor> own_executor;
    std::optional<work_type> work;
    std::shared_ptr<shared_state_type> shared;
    /// After a tail call to a started coroutine or a deferred.
    std::unique_ptr<tail_source<T>> tail;
  };

  std::unique_ptr<coroutine_extras> make_extras() override
  {
    return std::make_unique<extras>();
  }

  extras& ensure_extras() { return static_cast<extras&>(ensure_extras_base()); }

  /// The run has ended (delivered or abandoned): no more outstanding work
  /// of the executor, no more a root of its context.
  void forget_run(extras& x) noexcept
  {
    x.work.reset();
#ifndef COFLOW_NO_INTROSPECTION
    if (x.root_owner)
    {
      // Under the lock: a reader of the roots that found it listed has its
      // reference by now (the running one goes after this).
      // A held wake-up keeps the registration.
      x.under_registry_lock([&]() noexcept { x.root_owner = nullptr; }, bool(x.held));
    }
#endif
  }

  extras* typed_extras() const noexcept { return static_cast<extras*>(this->extras_ptr()); }

  void mark_started()
  {
    if (started())
      throw std::logic_error("coflow: the coroutine has already started");
    set_stage(stage::started);
  }

  /// copy_outcome(), or the exception its copy threw: the state's
  /// consumers receive that exception (the awaiting parent still takes the
  /// value itself).
  outcome<T> copy_or_error() const
  {
    try
    {
      return copy_outcome();
    }
    catch (...)
    {
      return outcome<T>(std::in_place_index<1>, std::current_exception());
    }
  }

  outcome<T> copy_outcome() const
  {
    if (error_)
      return outcome<T>(std::in_place_index<1>, error_);
    if constexpr (copyable_v<value_type>)
      return outcome<T>(std::in_place_index<0>, value_);
    else
      return outcome<T>(std::in_place_index<1>,
          std::make_exception_ptr(std::logic_error(
              "coflow: a move-only result has a single consumer")));
  }

  /// A borrowed executor belongs to an ancestor that may go before this
  /// coroutine state's other handles do: they get a copy of their own.
  /// Out of memory, the other handles lose the executor instead: their
  /// get_executor() and consumers throw std::bad_alloc, never read the
  /// ancestor's.
  void keep_executor() noexcept
  {
    if (executor_ && refs_.load(std::memory_order_relaxed) > 1
        && !(typed_extras() && typed_extras()->own_executor))
    {
      try
      {
        executor_ = &ensure_extras().own_executor.emplace(*typed_executor());
      }
      catch (...)
      {
        executor_ = nullptr;
      }
    }
  }

  /// Hands the result to the consumers and the continuation, then drops the
  /// running reference (or hands it to @p ending_frame: the body's frame,
  /// which flows off after this returns; null when it is gone already).
  /// Runs inside a pump: the continuation runs after it.
  void deliver(void* ending_frame = nullptr) noexcept
  {
    set_stage(stage::finished);
    const bool counted = !borrowed_run_;
    result_sink<T>* sink = nullptr;
    try
    {
      extras* x = typed_extras();
      const bool shared = x && x->shared;
      if (sink_)
      {
        // A spawned coroutine state: its running reference and the sink's handle are
        // the only references if no other handle may read the result.
        const bool only_sink = !shared && refs_.load(std::memory_order_acquire) == 2;
        if (!only_sink)
          keep_executor(); // a branch's is borrowed from the node's coroutine
        sink = std::exchange(sink_, nullptr);
        sink->receive(only_sink ? take_outcome() : copy_or_error());
      }
      if (shared)
      {
        if (continuation_)
          x->shared->settle(copy_or_error());
        else
          x->shared->settle(take_outcome());
      }
      if (continuation_)
        keep_executor();
      else if (!shared && !sink && error_ && error_ != shared_cancelled_error())
        error_unreported_ = true; // until a consumer takes it, or the last handle goes
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
    if (ending_frame)
    {
      // Until the frame has freed its part of the block, it keeps a
      // reference: once the parent goes on, or the running reference goes,
      // another thread may drop the last handle, and the coroutine state must not be
      // destroyed (and the block freed) under the frame. A counted run hands
      // its running reference over; a borrowed one takes one.
      if (!counted)
        add_ref();
      frame_block::release_after_frame<coroutine_state>(ending_frame, this);
    }
    if (continuation_)
    {
      if (inline_slot_ && continuation_.get()->runnable())
      {
        // The parent is in start_inline(), below on this stack: it goes on
        // by returning from its await_suspend.
        (void)continuation_.detach();
        *std::exchange(inline_slot_, nullptr) = inline_result::goes_on;
      }
      else if (inline_slot_ || !resume_parked_parent())
        std::move(continuation_).resume();
    }
    else if (sink)
      sink->delivered(); // may resume what waits on the sink (queued)
    if (counted)
    {
      if (extras* x = typed_extras()) // a spawned one's (a branch may have none)
        forget_run(*x);
      if (!ending_frame)
        release();
    }
  }

  /// on_body_done() beyond the common case; @p frame flows off after it.
  void finish_body(std::coroutine_handle<> frame) noexcept
  {
    if (!inline_slot_ && borrowed_run_ && uncontrolled() && !extras_ptr()
        && refs_.load(std::memory_order_relaxed) == 1 && resume_parked_parent())
    {
      // A child started at the nesting bound, finishing into its parked
      // parent: as the common case of on_body_done(), through the pump.
      set_stage(stage::finished);
      return;
    }
    if (cancel_requested())
    {
      // Whatever the body did after the cancel, the result is cancelled. An
      // error other than the cancel itself came from cleanup: reported.
      if (error_ && error_ != shared_cancelled_error())
        report_unhandled_error(error_);
      error_ = shared_cancelled_error();
    }
    // Its own result is held from its consumers, as a body's wake-up is.
    if (held_by_pause())
    {
      // Once held, another thread may release the end, deliver it and drop
      // the last handle before this frame has flowed off: the frame keeps
      // a reference of its own until it has freed its part of the block.
      add_ref();
      frame_block::release_after_frame<coroutine_state>(frame.address(), this);
      if (hold_self())
        return;
      return deliver(); // not held after all (unpaused meanwhile)
    }
    deliver(frame.address());
  }

  // coroutine_state_base hooks

  void destroy_self() noexcept override { destroy(); }

  void post_resume(resume_token token) override
  {
    boost::asio::post(*typed_executor(),
        [token = std::move(token)]() mutable { std::move(token).resume(); });
  }

  boost::asio::execution_context& context() override
  {
    return boost::asio::query(*typed_executor(), boost::asio::execution::context);
  }

  bool runs_on(const boost::asio::any_io_executor& ex) const noexcept override
  {
    try
    {
      return executor_ && boost::asio::any_io_executor(*typed_executor()) == ex;
    }
    catch (...)
    {
      return false; // out of memory: not read
    }
  }

  resume_token on_abandoned() noexcept override
  {
    result_sink<T>* sink = std::exchange(sink_, nullptr);
    if (extras* x = typed_extras())
      forget_run(*x);
    destroy_frame();
    keep_executor();
    // Abandoned next, by the caller: with a borrowed running reference, the
    // parent's frame holds the only handle, and this coroutine state may go with it. A
    // tail source's coroutine state is its continuation; a fan-in's, its sink's.
    if (continuation_ || !sink)
      return std::move(continuation_);
    return sink->abandoned();
  }

  void finish_unstarted() override
  {
    // Cancelled before the body started: it never runs.
    error_ = shared_cancelled_error();
    set_stage(stage::body_done);
    destroy_frame();
    deliver();
  }

  /// end_in_tail() once the frame is gone.
  void wait_for_tail(tail_source<T>& s) noexcept
  {
    try
    {
      s.wait(resume_token::adopt(this));
    }
    catch (...)
    {
      // Out of memory (the consumer link, a post to the next state's
      // executor): the error is the result, and a token that went on is
      // stale.
      fail_suspension();
      error_ = std::current_exception();
      return finish_tail_failed();
    }
    try
    {
      if (end_suspension())
        return; // the token resumes it when the result is there
    }
    catch (...)
    {
      // The next state's consumer was dropped unused.
      error_ = std::current_exception();
      return finish_tail_failed();
    }
    finish_held(); // the result came at once
  }

  /// A tail call whose wait on the next state failed: the error is the
  /// result.
  void finish_tail_failed() noexcept
  {
    resumed();
    if (extras* x = typed_extras())
      x->tail.reset();
    deliver();
  }

  void finish_held() override
  {
    if (extras* x = typed_extras(); x && x->tail)
    {
      // The result of a tail call's target: it is this coroutine's.
      outcome<T> result = x->tail->take();
      resumed();
      x->tail.reset();
      if (result.index() == 1)
        error_ = std::get<1>(std::move(result));
      else
        emplace_value(std::get<0>(std::move(result)));
      if (cancel_requested())
        error_ = shared_cancelled_error(); // whatever the target delivered
    }
    deliver();
  }

  /// An error that no consumer has received yet: reported when the last
  /// handle goes, as a deferred's is (DESIGN.md §3). (First: it fills the
  /// base's tail padding, next to the other flags.)
  bool error_unreported_ = false;
  /// Where the result goes directly (see set_sink()): a tail source (its
  /// token is then continuation_) or a node's branch sink. (Here, not in
  /// the extras, so that a branch needs none: it fills the block's padding
  /// for results of up to 8 bytes.)
  result_sink<T>* sink_ = nullptr;
  std::exception_ptr error_;
  /// The value, constructed while has_value_ (a flag of the base, in its
  /// padding) says so. Not a std::optional: its flag would take 8 bytes
  /// more, a whole unit of the block for results of 8 bytes.
  union
  {
    value_type value_;
  };

  template <class... Args>
  void emplace_value(Args&&... args)
  {
    reset_value();
    std::construct_at(std::addressof(value_), std::forward<Args>(args)...);
    has_value_ = true;
  }

  void reset_value() noexcept
  {
    if (std::exchange(has_value_, false))
      std::destroy_at(std::addressof(value_));
  }
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_COROUTINE_STATE_HPP
