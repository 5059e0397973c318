//
// coflow/detail/tail_call_awaiter.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// co_return co_await tail_call(next) in a coroutine body: a coroutine or a
// deferred takes over the running coroutine.
//

#ifndef COFLOW_DETAIL_TAIL_CALL_AWAITER_HPP
#define COFLOW_DETAIL_TAIL_CALL_AWAITER_HPP

#include <coflow/detail/cascade_awaiter.hpp>
#include <coflow/detail/coroutine_access.hpp>
#include <coflow/detail/coroutine_state.hpp>
#include <coflow/detail/executor_hop.hpp>
#include <coflow/detail/state_wait.hpp>

#include <coroutine>
#include <memory>
#include <utility>

namespace coflow {
namespace detail {

template <class T, class Executor>
class coroutine_promise;

/// Stands for a tail call whose types do not match, so that the
/// static_assert is the only error the compiler reports.
template <class T>
struct mismatched_tail_call
{
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  T await_resume() const; // never defined: the program is ill-formed anyway
};

/// co_return co_await tail_call(next) with a coroutine<T, Executor>: an
/// unstarted next state nobody else holds becomes the body of the running
/// coroutine (its promise is rebound to the running coroutine state); any other one is
/// waited on through a tail_source.
template <class T, class Executor>
class coroutine_tail_awaiter
  : public await_point<coroutine_tail_awaiter<T, Executor>, coroutine_state<T, Executor>>
{
public:
  using coro_state_type = coroutine_state<T, Executor>;

  coroutine_tail_awaiter(coro_state_type* t, coroutine<T, Executor>&& next) noexcept
    : coroutine_tail_awaiter::await_point(t), next_(std::move(next))
  {
  }

  /// A tail call is a suspension point (await_point: a pending cancel stops
  /// it); it never completes at once.
  [[gnu::always_inline]] bool ready()
  {
    const coro_state_type* n = coroutine_access::state_pointer(next_);
    if (n->started())
    {
      local_ = same_executor(this->coro_->executor(), n->executor()); // for await_suspend
      if (local_)
        check_no_cycle(n, this->coro_, wait_kind::tail_call);
    }
    return false;
  }

  void await_suspend(std::coroutine_handle<>)
  {
    // This awaiter lives in the frame that goes: everything on the stack.
    coro_state_type* const t = this->coro_;
    coro_state_type* const n = coroutine_access::state_pointer(next_);
    if (n->adoptable())
    {
      auto next_frame = std::coroutine_handle<coroutine_promise<T, Executor>>::from_address(
          n->give_frame().address());
      next_frame.promise().rebind(t);
      t->adopt_function_site(*n); // introspection shows the state that runs
      next_ = {}; // the next state's own identity goes; its frame stays
      return t->swap_frame(next_frame);
    }
    // accepts_sink() implies started(): ready() has compared the executors.
    // A next state started by another thread since ready() has local_
    // false: no collapse, and make_source() compares for itself.
    if (n->accepts_sink() && local_)
      if (tail_source<T>* sink = t->lock_tail_sink())
      {
        // The chain collapses: the source that waits on this coroutine
        // waits on the next state instead, and this coroutine goes. Its
        // handle comes back here, and goes with the frame.
        static_cast<source*>(sink)->retarget(next_);
        return t->end_in_collapse(n); // the frame and this awaiter are gone
      }
    t->end_in_tail(make_source());
  }

  /// Reached only with a cancel pending (the frame is gone otherwise),
  /// which await_point throws first.
  [[noreturn]] T take() { std::rethrow_exception(shared_cancelled_error()); }

private:
  class source final : public tail_source<T>
  {
  public:
    source(coro_state_type* t, coroutine<T, Executor> next)
      : next_(std::move(next)), wait_(t)
    {
      coro_state_type* n = coroutine_access::state_pointer(next_);
      if (!n->started())
        n->start_posted(t->executor()); // shared but unstarted: spawned here
      local_ = same_executor(t->executor(), n->executor());
    }

    void wait(resume_token token) override
    {
      coro_state_type* n = coroutine_access::state_pointer(next_);
      if (local_ && n->accepts_sink())
        return n->set_tail_sink(this, std::move(token)); // no shared state
      run_on(local_, n->executor(), [this, n, token = std::move(token)]() mutable {
        wait_.attach(n->shared());
        wait_.wait(std::move(token));
      });
    }

    outcome<T> take() override
    {
      if (this->direct_)
        return std::move(*this->direct_);
      return wait_.take_outcome();
    }

    /// A collapse (see coroutine_state::lock_tail_sink()): this source waits on the
    /// coroutine of @p next from now on, and @p next gets the handle of
    /// the coroutine it waited on so far.
    void retarget(coroutine<T, Executor>& next) noexcept
    {
      std::swap(next_, next);
    }

    void for_each_awaited(awaited_visitor& visit) const noexcept override
    {
      if (local_)
        visit(coroutine_access::state_pointer(next_));
    }

    awaited_description describe() const noexcept override
    {
      return {awaited_kind::coroutine, nullptr, true};
    }

    void pause() override { control([](coro_state_type& c) { c.pause(); }); }
    void unpause() override { control([](coro_state_type& c) { c.unpause(); }); }
    void cancel() override { control([](coro_state_type& c) { c.cancel(); }); }

  private:
    /// Applies @p f to the next state, from its executor.
    template <class Function>
    void control(Function f)
    {
      apply_on(local_, *coroutine_access::state_pointer(next_), next_, f);
    }

    coroutine<T, Executor> next_;
    shared_state_wait<coro_state_type, T, Executor> wait_;
    bool local_ = true;
  };

  std::unique_ptr<tail_source<T>> make_source()
  {
    return std::make_unique<source>(this->coro_, std::move(next_));
  }

  coroutine<T, Executor> next_;
  bool local_ = false; // a started next state on this coroutine's executor
};

/// co_return co_await tail_call(d) with a deferred<T, E>: the running frame
/// goes, and the deferred's result becomes the coroutine's; pause and
/// cancel are forwarded to the deferred.
template <class T, class Executor, class E>
class deferred_tail_awaiter
  : public await_point<deferred_tail_awaiter<T, Executor, E>, coroutine_state<T, Executor>>
{
public:
  using coro_state_type = coroutine_state<T, Executor>;

  deferred_tail_awaiter(coro_state_type* t, std::shared_ptr<deferred_state<T, E>> s) noexcept
    : deferred_tail_awaiter::await_point(t), state_(std::move(s))
  {
  }

  /// See coroutine_tail_awaiter::ready().
  bool ready() const
  {
    if (same_executor(this->coro_->executor(), state_->executor()))
      check_no_cycle(producer_of(*state_), this->coro_, wait_kind::tail_call);
    return false;
  }

  void await_suspend(std::coroutine_handle<>)
  {
    this->coro_->end_in_tail(std::make_unique<source>(this->coro_, std::move(state_)));
  }

  /// See coroutine_tail_awaiter::take().
  [[noreturn]] T take() { std::rethrow_exception(shared_cancelled_error()); }

private:
  class source final : public tail_source<T>
  {
  public:
    source(coro_state_type* t, std::shared_ptr<deferred_state<T, E>> s)
      : local_(same_executor(t->executor(), s->executor())), wait_(t, std::move(s))
    {
    }

    void wait(resume_token token) override
    {
      run_on(local_, wait_.state().executor(),
          [this, token = std::move(token)]() mutable { wait_.wait(std::move(token)); });
    }

    outcome<T> take() override { return wait_.take_outcome(); }

    void for_each_awaited(awaited_visitor& visit) const noexcept override
    {
      if (local_) // a coroutine's view: that coroutine
        if (const coroutine_state_base* producer = producer_of(wait_.state()))
          visit(producer);
    }

    awaited_description describe() const noexcept override
    {
      return {awaited_kind::deferred, nullptr, true};
    }

    void pause() override { wait_.control(local_, &deferred_state<T, E>::pause); }
    void unpause() override { wait_.control(local_, &deferred_state<T, E>::unpause); }
    void cancel() override { wait_.control(local_, &deferred_state<T, E>::cancel); }

  private:
    bool local_;
    shared_state_wait<coro_state_type, T, E> wait_;
  };

  std::shared_ptr<deferred_state<T, E>> state_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_TAIL_CALL_AWAITER_HPP
