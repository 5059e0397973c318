//
// coflow/detail/child_awaiter.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// co_await coroutine<U, E> in a coroutine body: the child coroutine.
//

#ifndef COFLOW_DETAIL_CHILD_AWAITER_HPP
#define COFLOW_DETAIL_CHILD_AWAITER_HPP

#include <coflow/detail/cascade_awaiter.hpp>
#include <coflow/detail/coroutine_access.hpp>
#include <coflow/detail/executor_hop.hpp>
#include <coflow/detail/state_wait.hpp>
#include <coflow/detail/coroutine_state_base.hpp>

#include <boost/asio/recycling_allocator.hpp>

#include <coroutine>
#include <memory>
#include <utility>

namespace coflow {
namespace detail {

/// co_await coroutine<U, E>: an unstarted child starts inline (on the
/// parent's executor) and resumes the parent when done; a started one is
/// waited on through its shared state. Either way pause and cancel go to the
/// child's coroutine state, on the child's executor.
template <class CoroState, class U, class E>
class child_awaiter final : public cascade_awaiter<child_awaiter<CoroState, U, E>, CoroState>
{
public:
  [[gnu::always_inline]] child_awaiter(CoroState* parent, coroutine<U, E>&& child) noexcept
    : child_awaiter::cascade_awaiter(parent), child_(std::move(child))
  {
  }

  child_awaiter(const child_awaiter&) = delete;
  child_awaiter& operator=(const child_awaiter&) = delete;

  [[gnu::always_inline]] ~child_awaiter()
  {
    if (shared_) [[unlikely]]
      destroy_shared(shared_);
  }

  [[gnu::always_inline]] bool ready()
  {
    if (!child()->started())
      return false;
    return ready_started();
  }

  /// ready() of a started child (out of line: the common child is not
  /// started).
  [[gnu::noinline]] bool ready_started()
  {
    local_ = same_executor(this->coro_->executor(), child()->executor());
    if (local_)
      check_no_cycle(child(), this->coro_, wait_kind::await);
    shared_wait* w = boost::asio::recycling_allocator<shared_wait>().allocate(1);
    shared_ = ::new (static_cast<void*>(w)) shared_wait(this->coro_);
    if (!local_)
      return false; // its state is touched only from its executor
    shared_->attach(child()->shared());
    return shared_->try_now();
  }

  /// An unstarted child starts here, nested, and the parent waits on it as
  /// its continuation; a started one through its shared state.
  bool await_suspend(std::coroutine_handle<> h)
  {
    if (!shared_)
    {
      CoroState* parent = this->coro_;
      parent->suspend_on(this);
      try
      {
        return child()->start_inline(parent->executor(), parent);
      }
      catch (...)
      {
        parent->suspension_failed(); // thrown before the child started
        throw;
      }
    }
    return wait_shared(h);
  }

  /// A started child: the parent waits on its shared state (out of line:
  /// the inline start above is the common path).
  [[gnu::noinline]] bool wait_shared(std::coroutine_handle<> h)
  {
    return child_awaiter::cascade_awaiter::await_suspend(h);
  }

  void hand_over(resume_token&& token)
  {
    run_on(local_, child()->executor(), [this, token = std::move(token)]() mutable {
      if (!local_)
        shared_->attach(child()->shared());
      shared_->wait(std::move(token));
    });
  }

  [[gnu::always_inline]] U take()
  {
    if (shared_) [[unlikely]]
      return shared_->take();
    return child()->take_value();
  }

  void for_each_awaited(awaited_visitor& visit) const noexcept override
  {
    if (local_) // another executor's coroutine state is not read
      visit(child());
  }

  awaited_description describe() const noexcept override
  {
    return {awaited_kind::coroutine};
  }

  void pause() override { control([](coroutine_state<U, E>& c) { c.pause(); }); }
  void unpause() override { control([](coroutine_state<U, E>& c) { c.unpause(); }); }
  void cancel() override { control([](coroutine_state<U, E>& c) { c.cancel(); }); }

private:
  coroutine_state<U, E>* child() const noexcept { return coroutine_access::state_pointer(child_); }

  /// Applies @p f to the child, from its executor.
  template <class Function>
  void control(Function f)
  {
    apply_on(local_, *child(), child_, f);
  }

  using shared_wait = shared_state_wait<CoroState, U, E>;

  /// (Out of line: the common child, unstarted, has none.)
  [[gnu::noinline]] static void destroy_shared(shared_wait* w) noexcept
  {
    std::destroy_at(w);
    boost::asio::recycling_allocator<shared_wait>().deallocate(w, 1);
  }

  coroutine<U, E> child_;
  bool local_ = true; // an unstarted child runs on the parent's executor
  /// Only for a child started elsewhere: waits on its shared state. Out of
  /// the frame: every level of a recursion holds this awaiter, and most
  /// children are unstarted. Owned: see the destructor.
  shared_wait* shared_ = nullptr;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_CHILD_AWAITER_HPP
