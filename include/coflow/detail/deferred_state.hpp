//
// coflow/detail/deferred_state.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The shared state behind deferred<T, Executor>: the current result, the
// callback chain (callbacks, errbacks and consumers in the order they were
// added), the pause count and the canceller.
//
// States wait on each other (chaining, then()), so that a cascade may cross
// a million of them. Every walk across states is a loop, never a recursion:
// running chains (chain_node::drive), forwarding a cancel
// (chain_node::forward_cancel), destroying links (chain_node::destroy_links)
// and looking for cycles (chain_node::closes_cycle).
//

#ifndef COFLOW_DETAIL_DEFERRED_STATE_HPP
#define COFLOW_DETAIL_DEFERRED_STATE_HPP

#include <coflow/detail/outcome.hpp>
#include <coflow/detail/waiter_registry.hpp>
#include <coflow/error.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/recycling_allocator.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace coflow {
namespace detail {

/// A new shared deferred state. Its memory comes from Asio's per-thread
/// recycling cache (the one its handlers' memory comes from) when made on a
/// thread that runs an execution context: a deferred made and dropped for
/// every result, the common case, then costs no malloc and no free.
template <class State, class... Args>
std::shared_ptr<State> new_shared_state(Args&&... args)
{
  return std::allocate_shared<State>(
      boost::asio::recycling_allocator<State>(), std::forward<Args>(args)...);
}

class coroutine_state_base;



class chain_node;

/// One element of a callback chain, whatever its state's type. Links are
/// owned by the chain and run at most once; destroy() releases a link
/// whether it ran or not.
class link_base
{
public:
  link_base* next = nullptr;

  /// True for links that deliver to a waiting consumer (counted for the
  /// waiter registry).
  const bool is_waiter;

  virtual void destroy() noexcept = 0;

  /// The state that waits for this link to run (a chained outer deferred,
  /// an unfired then() target), if any: what the cycle check follows.
  virtual const chain_node* dependent() const noexcept { return nullptr; }

  /// The consumer that waits through this link, for links that may be
  /// withdrawn (see deferred_state::cancel_waiter()); null otherwise.
  virtual const void* consumer() const noexcept { return nullptr; }

protected:
  explicit link_base(bool waiter) noexcept : is_waiter(waiter) {}
  ~link_base() = default;
};

/// A link of the chain of a State.
template <class State>
class chain_link : public link_base
{
public:
  /// Runs the link. A link that gives a result to another state (a
  /// chained outer deferred, a then() target) sets @p next to that state,
  /// whose chain the caller runs next; other links leave it null.
  virtual void run(State& state, std::shared_ptr<chain_node>& next) = 0;

  /// The link leaves the chain without running: its consumer() receives
  /// cancelled_error instead of the result (links with a consumer only).
  virtual void withdraw(State&) {}

protected:
  explicit chain_link(bool waiter = false) noexcept : link_base(waiter) {}
  ~chain_link() = default;
};

/// What cancel() calls first on an unfired state.
template <class State>
class canceller_base
{
public:
  virtual ~canceller_base() = default;
  virtual void cancel(State& state) = 0;

  /// True when the canceller's target will fire the state itself, later
  /// (a coroutine unwinding): cancel() then does not fail it at once.
  virtual bool settles_later() const noexcept { return false; }

  /// True when the cancel's failure must wait for the canceller's target
  /// to end (an Asio operation in flight, which may still use its
  /// buffers): cancel() then marks the state cancelled, and it fails with
  /// cancelled_error when its producer settles it, whatever the result.
  /// Asked before cancel() runs.
  virtual bool fails_later() const noexcept { return false; }

  /// The coroutine whose body produces the state (its deferred view), to
  /// find a coroutine that would wait on itself through it.
  virtual const coroutine_state_base* producer() const noexcept { return nullptr; }
};

/// chain_node::dispatch_cancel() for an executor that any_io_executor can
/// hold: compiled once, in the library (src/deferred_cancel.cpp), not in
/// every program that waits on a deferred.
void dispatch_cancel_on(const boost::asio::any_io_executor& ex, std::shared_ptr<chain_node> state);

/// Cancels @p state; what that throws goes to the unhandled-error handler.
void cancel_reported(chain_node& state) noexcept;

/// The part of a deferred_state that does not depend on its result type,
/// and the loops that cross states of any type.
class chain_node : public registered_state
{
public:
  bool called() const noexcept { return called_; }

  /// Cancelled, and its failure waits for its producer (see
  /// canceller_base::fails_later()), or for the source it waits on.
  bool cancel_pending() const noexcept { return cancel_pending_; }

  /// The result is there, and so is the result of every inner deferred its
  /// chain waits on: no producer can change it any more, only a pause can
  /// hold it.
  bool result_produced() const noexcept
  {
    const chain_node* s = this;
    std::shared_ptr<chain_node> inner;
    while (s->called_ && s->waiting_inner_)
    {
      inner = s->upstream_.lock();
      if (!inner)
        return false;
      s = inner.get();
    }
    return s->called_;
  }

  /// Cancels the state (forwarding to whatever it waits on). From its
  /// executor only.
  virtual void cancel() = 0;

  /// Cancels @p self (this state) from its executor: at once when the
  /// caller runs it, else posted there. For a consumer's cancellation slot,
  /// which may be emitted on any thread (Asio's co_spawn dispatches its
  /// cancellation to the coroutine's executor for the same reason). What
  /// the cancel throws goes to the unhandled-error handler: an emitter has
  /// nothing to do with it.
  virtual void dispatch_cancel(std::shared_ptr<chain_node> self) = 0;

protected:
  chain_node() = default;
  ~chain_node() = default;

  /// Runs the links of the chain, in order, while it can run (running_ is
  /// set by the caller). Stops after a link that hands a result to another
  /// state and returns that state: its chain runs next, then this one goes
  /// on (running_ still set) unless it has nothing left to run (running_
  /// cleared). Returns null once the chain cannot run any further.
  virtual std::shared_ptr<chain_node> run_links() = 0;

  /// The first half of cancel(): calls the canceller of an unfired state.
  /// @returns the state the cancel is forwarded to (an inner deferred, the
  /// source of a then() target), if any; @p finish tells whether
  /// cancel_finish() is due once that forwarding is done.
  virtual std::shared_ptr<chain_node> cancel_step(bool& finish) = 0;

  /// The second half: fails the state if it is still unfired.
  virtual void cancel_finish() = 0;

  /// What this state's result waits for: the inner deferred of a fired
  /// chain, or the source of an unfired then() target.
  std::shared_ptr<chain_node> awaited() const noexcept
  {
    if (waiting_inner_ || !called_)
      return upstream_.lock();
    return nullptr;
  }

  /// Goes on after run_links() of @p bottom (held by the caller; null if
  /// its chain has finished) returned @p next: runs the chains of states
  /// that receive results, depth first, as nested calls would, but in a
  /// loop, so that chains a million deferreds deep do not grow the stack.
  static void drive(chain_node* bottom, std::shared_ptr<chain_node> next)
  {
    // States whose chain stopped to let another one run first, innermost
    // last.
    std::vector<std::shared_ptr<chain_node>> suspended;
    std::shared_ptr<chain_node> current;
    try
    {
      for (;;)
      {
        if (next && !next->running_)
        {
          current = std::move(next);
          current->running_ = true;
          next = current->run_links();
        }
        else if (!suspended.empty())
        {
          // next, if any, is running further down this thread's stack,
          // which goes on with it.
          current = std::move(suspended.back());
          suspended.pop_back();
          next = current->run_links();
        }
        else if (bottom)
        {
          next = bottom->run_links();
          if (!bottom->running_)
            bottom = nullptr;
          continue;
        }
        else
          return;
        if (current->running_)
          suspended.push_back(std::move(current));
        current.reset();
      }
    }
    catch (...)
    {
      // As when a link of a single chain throws: every chain stops, and
      // keeps its remaining links for a later run.
      if (current)
        current->running_ = false;
      for (auto& s : suspended)
        s->running_ = false;
      if (bottom)
        bottom->running_ = false;
      throw;
    }
  }

  /// Goes on with a cancel after cancel_step() of this state (held by the
  /// caller) returned @p next: forwards it along what each state waits on,
  /// then finishes the states, innermost first, as nested calls would, but
  /// in a loop.
  void forward_cancel(bool finish_this, std::shared_ptr<chain_node> next)
  {
    std::vector<std::shared_ptr<chain_node>> to_finish;
    try
    {
      while (next)
      {
        if (to_finish.size() == to_finish.capacity())
          to_finish.reserve(2 * to_finish.size() + 8);
        bool finish = false;
        std::shared_ptr<chain_node> up = next->cancel_step(finish);
        if (finish)
          to_finish.push_back(std::move(next)); // capacity is there
        next = std::move(up);
      }
      while (!to_finish.empty())
      {
        std::shared_ptr<chain_node> s = std::move(to_finish.back());
        to_finish.pop_back();
        s->cancel_finish();
      }
    }
    catch (...)
    {
      for (auto& s : to_finish)
        s->cancelling_ = false;
      if (finish_this)
        cancelling_ = false;
      throw;
    }
    if (finish_this)
      cancel_finish();
  }

  /// Whether this state waiting on @p inner would close a cycle: whether
  /// @p inner waits on this state, directly or not.
  /**
   * Two walks alternate, one step each: up from @p inner along what each
   * state waits on, and down from this state through the links of the
   * states that wait on it. The first to end decides, so the cost is that
   * of the shorter: a chain built in either order costs constant time per
   * link. Nothing changes during the walk, and links own the states above
   * them, so the down walk reads without reference counting.
   */
  bool closes_cycle(const chain_node& inner) const
  {
    std::shared_ptr<chain_node> up = inner.awaited();
    const link_base* down = first_;
    std::vector<const link_base*> branches; // where the down walk resumes
    for (;;)
    {
      if (!up)
        return false;
      if (up.get() == this)
        return true;
      up = up->awaited();

      while (!down)
      {
        if (branches.empty())
          return false;
        down = branches.back();
        branches.pop_back();
      }
      const link_base* link = down;
      down = link->next;
      if (const chain_node* waiting = link->dependent())
      {
        if (waiting == &inner)
          return true;
        if (waiting->first_)
        {
          if (down)
            branches.push_back(down);
          down = waiting->first_;
        }
      }
    }
  }

  /// Destroys the detached links from @p first to @p last. A link may own
  /// the last handle of another state, whose links then join the loop that
  /// runs further down this thread's stack instead of being destroyed in a
  /// nested call: a long chain of states that hold each other goes in
  /// constant stack.
  static void destroy_links(link_base* first, link_base* last) noexcept
  {
    graveyard& g = this_thread_graveyard();
    if (g.active)
    {
      last->next = g.first;
      g.first = first;
      return;
    }
    g.active = true;
    g.first = first;
    while (link_base* link = g.first)
    {
      g.first = link->next;
      link->destroy();
    }
    g.active = false;
  }

  /// destroy_links(), done before returning even inside the loop of an
  /// outer call: context shutdown destroys every waiter while the context
  /// is still there.
  static void destroy_links_now(link_base* first, link_base* last) noexcept
  {
    graveyard& g = this_thread_graveyard();
    const graveyard outer = std::exchange(g, graveyard{nullptr, false});
    destroy_links(first, last);
    g = outer;
  }

  link_base* first_ = nullptr;
  link_base* last_ = nullptr;
  // The inner deferred a fired chain waits on, or the source of an unfired
  // then() target: where cancel() is forwarded.
  std::weak_ptr<chain_node> upstream_;
  bool called_ = false;
  bool running_ = false;
  bool waiting_inner_ = false;
  bool cancelling_ = false;
  bool cancel_pending_ = false;

private:
  struct graveyard
  {
    link_base* first;
    bool active;
  };

  static graveyard& this_thread_graveyard() noexcept
  {
    static thread_local graveyard g{nullptr, false};
    return g;
  }
};

/// Sits in an inner deferred's chain and hands the inner result to the
/// outer chain, which the caller then runs.
template <class Outer, class Inner>
class resume_outer_link final : public chain_link<Inner>
{
public:
  explicit resume_outer_link(std::shared_ptr<Outer> outer) noexcept
    : outer_(std::move(outer))
  {
  }

  void run(Inner& inner, std::shared_ptr<chain_node>& next) override
  {
    outer_->resume_from_inner(inner.take_outcome());
    next = std::move(outer_);
  }

  void destroy() noexcept override { delete this; }

  const chain_node* dependent() const noexcept override { return outer_.get(); }

private:
  std::shared_ptr<Outer> outer_;
};

template <class T, class Executor>
class deferred_state final
  : public chain_node,
    public std::enable_shared_from_this<deferred_state<T, Executor>>
{
public:
  using result_type = T;
  using value_type = value_of<T>;
  using link_type = chain_link<deferred_state>;
  using canceller_type = canceller_base<deferred_state>;

  explicit deferred_state(Executor ex) : executor_(std::move(ex)) {}

  ~deferred_state()
  {
    unregister_waiters();
    if (first_)
      destroy_links(std::exchange(first_, nullptr), std::exchange(last_, nullptr));
    if (error_unreported_ && result_.index() == 2)
      report_unhandled_error(std::get<2>(result_));
  }

  const Executor& executor() const noexcept { return executor_; }

  // --- producer side -------------------------------------------------------

  /// Reserves firing to the internal producers (settle()): callback() and
  /// errback() through a handle throw. A coroutine's state: its body
  /// produces the result.
  void set_internal_producer() noexcept { internal_producer_ = true; }

  /// callback() / errback(): one firing; after a cancel the next is ignored.
  void fire(outcome<T> result)
  {
    if (internal_producer_)
      throw std::logic_error("coflow: a coroutine's result is produced by "
                             "its body; it cannot be fired");
    if (std::exchange(ignore_next_fire_, false))
      return;
    if (called_ || cancel_pending_)
      throw already_called_error();
    settle(std::move(result));
  }

  /// Internal producers (an Asio operation, a coroutine): fires unless
  /// already called, and consumes the ignore-after-cancel allowance. After
  /// a cancel that waits for the producer, fails with cancelled_error
  /// instead: the result is discarded.
  void settle(outcome<T> result)
  {
    if (store(std::move(result)))
      run_chain();
  }

  /// The start of store() and store_from(): whether this fire is decided
  /// already. Called: it is ignored (false: nothing stored). A cancel
  /// pending: it fails the state now (true: a result is stored), as the
  /// producer knew of the cancel; nothing is ignored after it. Otherwise
  /// empty: the fire goes on.
  std::optional<bool> fire_decided()
  {
    if (called_)
    {
      ignore_next_fire_ = false;
      return false;
    }
    if (cancel_pending_) [[unlikely]]
    {
      ignore_next_fire_ = false;
      fail_cancelled();
      return true;
    }
    return std::nullopt;
  }

  /// settle() without running the chain (a then() source's link: the
  /// chain that runs it runs this one next).
  /// @returns whether the result was stored.
  bool store(outcome<T>&& result)
  {
    if (std::optional<bool> decided = fire_decided())
      return *decided;
    called_ = true;
    adopt(std::move(result));
    return true;
  }

  /// Like store(), with the result of another deferred: this chain waits
  /// for @p inner, and a cancel is forwarded to it.
  /// @returns whether the result is here already (the caller runs the
  /// chain).
  /// @throws std::logic_error, with nothing changed, if @p inner is empty,
  /// is this state, or waits on it.
  template <class InnerState>
  bool store_from(const std::shared_ptr<InnerState>& inner)
  {
    if (std::optional<bool> decided = fire_decided())
      return *decided;
    check_inner(inner);
    called_ = true;
    return !chain_to(inner);
  }

  /// The producer that a pending cancel waits for has gone without a result
  /// (an operation that destroyed its handler): the cancel's failure comes
  /// now.
  void producer_gone()
  {
    if (!cancel_pending_ || called_)
      return;
    fail_cancelled();
    run_chain();
  }

  void set_canceller(std::unique_ptr<canceller_type> c) noexcept
  {
    canceller_ = std::move(c);
  }

  canceller_type* canceller() const noexcept { return canceller_.get(); }

  // --- flow control --------------------------------------------------------

  void pause() noexcept { ++pause_count_; }

  void unpause()
  {
    if (pause_count_ == 0)
      throw std::logic_error("coflow: unpause() without a matching pause()");
    if (--pause_count_ == 0)
      run_chain();
  }

  unsigned pause_count() const noexcept { return pause_count_; }

  void dispatch_cancel(std::shared_ptr<chain_node> self) override
  {
    if constexpr (std::is_convertible_v<const Executor&, boost::asio::any_io_executor>)
      dispatch_cancel_on(boost::asio::any_io_executor(executor_), std::move(self));
    else
      boost::asio::dispatch(executor_, [self = std::move(self)] { cancel_reported(*self); });
  }

  void cancel() override
  {
    bool finish = false;
    std::shared_ptr<chain_node> next = cancel_step(finish);
    if (next)
      forward_cancel(finish, std::move(next));
    else if (finish)
      cancel_finish();
  }

  /// cancel(), for a consumer that stops waiting because it is cancelled
  /// itself (a coroutine's co_await; @p consumer is what its link's
  /// consumer() returns). If the result has been produced and only a pause
  /// holds it, the consumer's link leaves the chain and receives
  /// cancelled_error, posted; the state, its pause and its other links are
  /// not touched. A result still to come is waited for as by any consumer.
  void cancel_waiter(const void* consumer)
  {
    cancel();
    if (result_produced())
      withdraw(consumer);
  }

  /// Cancels of this unfired state are forwarded to @p up (then() targets).
  void set_upstream(std::weak_ptr<chain_node> up) noexcept
  {
    upstream_ = std::move(up);
  }

  // --- the chain -----------------------------------------------------------

  /// Appends a link and runs the chain if it can run. The state takes
  /// ownership of @p link.
  void append(link_type* link)
  {
    if (link->is_waiter && !waiters_registered() && !can_deliver_now())
    {
      // A consumer that will wait: registered first, so that a failure
      // (the registry is built on the context's first waiter) reaches the
      // caller before the consumer is taken.
      try
      {
        register_waiters(boost::asio::query(executor_, boost::asio::execution::context));
      }
      catch (...)
      {
        link->destroy();
        throw;
      }
    }
    if (last_)
      last_->next = link;
    else
      first_ = link;
    last_ = link;
    if (link->is_waiter)
      ++waiters_;
    run_chain();
    if (waiters_ != 0 && !waiters_registered())
    {
      // Still waiting behind a chained deferred: the consumer is taken, so
      // a failure here is reported, not thrown (only the destruction of the
      // waiters at context shutdown is lost).
      try
      {
        register_waiters(boost::asio::query(executor_, boost::asio::execution::context));
      }
      catch (...)
      {
        report_unhandled_error(std::current_exception());
      }
    }
  }

  /// A consumer appended now would receive the result at once.
  bool can_deliver_now() const noexcept
  {
    return called_ && !waiting_inner_ && !running_ && !first_
        && (pause_count_ == 0 || cancel_overrides_pause_);
  }

  bool has_value() const noexcept { return result_.index() == 1; }
  value_type& value() noexcept { return std::get<1>(result_); }

  /// The current error, now received by whoever asked.
  std::exception_ptr receive_error() noexcept
  {
    error_unreported_ = false;
    return std::get<2>(result_);
  }

  void set_value(value_type v) { result_.template emplace<1>(std::move(v)); }

  void set_error(std::exception_ptr e) noexcept
  {
    result_.template emplace<2>(std::move(e));
    error_unreported_ = true;
  }

  /// A consumer's copy of the current result. A consumer whose copy of the
  /// value throws receives that exception. A move-only value goes to the
  /// first consumer; later ones receive a std::logic_error.
  outcome<T> take_outcome()
  {
    if (result_.index() == 2)
      return outcome<T>(std::in_place_index<1>, receive_error());
    if constexpr (copyable_v<value_type>)
    {
      try
      {
        return outcome<T>(std::in_place_index<0>, std::get<1>(result_));
      }
      catch (...)
      {
        return outcome<T>(std::in_place_index<1>, std::current_exception());
      }
    }
    else
    {
      outcome<T> taken(std::in_place_index<0>, std::move(std::get<1>(result_)));
      result_.template emplace<2>(std::make_exception_ptr(std::logic_error(
              "coflow: the move-only result was taken by an earlier consumer")));
      return taken;
    }
  }

  /// A callback returned @p inner: the chain takes its result (Twisted's
  /// chaining), at once if it is there, otherwise through a link in the
  /// inner chain that hands it over.
  /// @throws std::logic_error, with nothing changed, if @p inner is empty,
  /// is this state, or waits on it.
  template <class InnerState>
  void wait_on(const std::shared_ptr<InnerState>& inner)
  {
    check_inner(inner);
    chain_to(inner);
  }

  /// The inner deferred this chain waited on has produced @p result; the
  /// caller runs the chain.
  void resume_from_inner(outcome<T> result)
  {
    adopt(std::move(result));
    waiting_inner_ = false;
    upstream_.reset();
  }

private:
  template <class InnerState>
  void check_inner(const std::shared_ptr<InnerState>& inner) const
  {
    if (!inner)
      throw std::logic_error("coflow: a callback returned an empty deferred");
    if (static_cast<const chain_node*>(inner.get()) == this)
      throw std::logic_error(
          "coflow: a callback returned the deferred it was added to");
    // Twisted checks the line above only; a longer cycle would wait
    // forever, and the states would hold each other forever.
    if (closes_cycle(*inner))
      throw std::logic_error(
          "coflow: a cycle of deferreds waiting on each other");
  }

  /// @returns whether the chain now waits for @p inner.
  template <class InnerState>
  bool chain_to(const std::shared_ptr<InnerState>& inner)
  {
    if (inner->can_deliver_now())
    {
      // No link to run: nothing nests, whatever the depth of such chains.
      adopt(inner->take_outcome());
      return false;
    }
    auto* link = new resume_outer_link<deferred_state, InnerState>(
        this->shared_from_this());
    waiting_inner_ = true;
    error_unreported_ = false;
    result_.template emplace<0>();
    upstream_ = inner;
    inner->append(link); // runs nothing but, maybe, links it had left
    return waiting_inner_;
  }

  /// Removes the link of @p consumer, if it is still in the chain, and
  /// lets it receive cancelled_error.
  void withdraw(const void* consumer)
  {
    link_base* prev = nullptr;
    for (link_base* link = first_; link; prev = link, link = link->next)
    {
      if (link->consumer() != consumer)
        continue;
      // A chain that runs further down this stack reads first_ afresh for
      // every link: unlinking one that has not run yet is safe.
      (prev ? prev->next : first_) = link->next;
      if (last_ == link)
        last_ = prev;
      link->next = nullptr;
      if (link->is_waiter && --waiters_ == 0 && !running_)
        unregister_waiters();
      struct destroy_link
      {
        link_base* link;
        ~destroy_link() { link->destroy(); }
      } guard{link};
      static_cast<link_type*>(link)->withdraw(*this);
      return;
    }
  }

  /// The failure a cancel causes, delivered despite a pause.
  void fail_cancelled() noexcept
  {
    called_ = true;
    cancel_pending_ = false;
    cancel_overrides_pause_ = true;
    error_unreported_ = false; // a cancelled_error is never reported
    result_.template emplace<2>(shared_cancelled_error());
  }

  void adopt(outcome<T>&& result)
  {
    if (result.index() == 0)
      result_.template emplace<1>(std::move(std::get<0>(result)));
    else
      set_error(std::get<1>(std::move(result)));
  }

  bool can_run_links() const noexcept
  {
    return first_ && called_ && !waiting_inner_
        && (pause_count_ == 0 || cancel_overrides_pause_);
  }

  void run_chain()
  {
    // Running already: the loop below on this stack goes on with the new
    // links.
    if (running_ || !can_run_links())
      return;
    running_ = true;
    std::shared_ptr<chain_node> next;
    run_runnable_links(next);
    if (next) [[unlikely]]
      drive(running_ ? this : nullptr, std::move(next));
  }

  std::shared_ptr<chain_node> run_links() override
  {
    std::shared_ptr<chain_node> next;
    if (can_run_links())
      run_runnable_links(next);
    else
      finish_run();
    return next;
  }

  /// The loop of run_links(), entered with a link that can run.
  void run_runnable_links(std::shared_ptr<chain_node>& next)
  {
    try
    {
      do
      {
        link_type* link = static_cast<link_type*>(first_);
        first_ = link->next;
        if (!first_)
          last_ = nullptr;
        {
          struct destroy_link
          {
            deferred_state& self;
            link_type* link;
            ~destroy_link()
            {
              if (link->is_waiter)
                --self.waiters_;
              link->destroy();
            }
          } guard{*this, link};
          link->run(*this, next);
        }
        if (next)
        {
          // Nothing left to run here: this chain is done before the next
          // one runs, so a chain of hand-offs keeps no stack of states.
          if (!can_run_links())
            finish_run();
          return;
        }
      } while (can_run_links());
    }
    catch (...)
    {
      running_ = false;
      throw;
    }
    finish_run();
  }

  void finish_run() noexcept
  {
    running_ = false;
    if (waiters_ == 0)
      unregister_waiters();
  }

  [[gnu::always_inline]] std::shared_ptr<chain_node> cancel_step(bool& finish) override
  {
    finish = false;
    if (called_)
    {
      // A fired chain waiting on an inner deferred forwards the cancel to it.
      return waiting_inner_ ? upstream_.lock() : nullptr;
    }
    if (cancelling_ || cancel_pending_)
      return nullptr;
    cancelling_ = true;
    finish = true;
    if (canceller_)
    {
      if (canceller_->fails_later())
      {
        // Marked first: the producer may settle inside the canceller.
        cancel_pending_ = true;
        ignore_next_fire_ = true;
      }
      try
      {
        canceller_->cancel(*this);
      }
      catch (...)
      {
        report_unhandled_error(std::current_exception());
      }
    }
    return called_ ? nullptr : upstream_.lock();
  }

  void cancel_finish() override
  {
    cancelling_ = false;
    if (called_ || cancel_pending_ || (canceller_ && canceller_->settles_later()))
      return;
    if (auto source = upstream_.lock(); source && source->cancel_pending())
    {
      // A then() target whose source waits for its operation: it fails
      // when the source's failure reaches it.
      cancel_pending_ = true;
      ignore_next_fire_ = true;
      return;
    }
    ignore_next_fire_ = true;
    // The failure caused by a cancel is delivered despite a pause.
    fail_cancelled();
    run_chain();
  }

  void abandon_waiters() noexcept override
  {
    // Keep this state alive while its links (which may own the last
    // handle) are destroyed.
    auto self = this->weak_from_this().lock();
    if (!self)
      return;
    link_base* first = std::exchange(first_, nullptr);
    link_base* last = std::exchange(last_, nullptr);
    waiters_ = 0;
    if (first)
      destroy_links_now(first, last);
  }

  Executor executor_;
  std::variant<std::monostate, value_type, std::exception_ptr> result_;
  std::unique_ptr<canceller_type> canceller_;
  unsigned pause_count_ = 0;
  unsigned waiters_ = 0;
  bool ignore_next_fire_ = false;
  bool cancel_overrides_pause_ = false;
  bool error_unreported_ = false;
  bool internal_producer_ = false;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_DEFERRED_STATE_HPP
