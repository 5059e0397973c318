//
// coflow/detail/cascade_awaiter.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The protocol that every awaiter of a coroutine body follows, written once:
// the sticky cancel (a suspension point with a cancel pending does not wait,
// and throws it when the body goes on), the hand-over of the resume token
// under the coroutine state's suspension protocol, the body's return from the
// suspension, and the refusal of a wait that would close a cycle. Each kind
// of awaitable supplies only what differs: whether its result is there now,
// how it hands the token over, how the result is taken, and where pause and
// cancel go.
//

#ifndef COFLOW_DETAIL_CASCADE_AWAITER_HPP
#define COFLOW_DETAIL_CASCADE_AWAITER_HPP

#include <coflow/detail/awaited_control.hpp>
#include <coflow/detail/coroutine_state_base.hpp>

#include <coroutine>
#include <stdexcept>
#include <utility>

namespace coflow {
namespace detail {

/// A wait, for the message of a refused one.
enum class wait_kind : unsigned char { await, tail_call };

[[noreturn, gnu::cold]] inline void throw_cycle(bool self, wait_kind kind)
{
  if (kind == wait_kind::await)
    throw std::logic_error(self ? "coflow: a coroutine awaits itself"
                                : "coflow: a cycle of coroutines awaiting each other");
  throw std::logic_error(self ? "coflow: a coroutine tail-calls itself"
                              : "coflow: a tail call to a coroutine that awaits the caller");
}

/// Throws std::logic_error if @p waiter waiting on @p awaited (a coroutine
/// of the waiter's executor, or null) would close a cycle: @p awaited is
/// @p waiter, or waits on it, directly or not. Nothing could ever resume it.
inline void check_no_cycle(const coroutine_state_base* awaited, const coroutine_state_base* waiter, wait_kind kind)
{
  if (awaited && awaited->waits_on(waiter))
    throw_cycle(awaited == waiter, kind);
}

/// The await protocol of a coroutine body (see the file comment).
/// @tparam Derived supplies
///   - `bool ready()`: the result is there now (no cancel pending);
///   - `T take()`: the result after the body goes on (or its error thrown);
///   - optionally `void leaving() noexcept`: first thing when the body goes
///     on, before the sticky cancel is thrown.
template <class Derived, class CoroState>
class await_point
{
public:
  using coro_state_type = CoroState;

  /// A cancel pending: the body does not wait, and await_resume() throws.
  [[gnu::always_inline]] bool await_ready()
  {
    if (coro_->cancel_requested())
      return true;
    return derived().ready();
  }

  /// Inlined into the body: a cancel unwinds every level of a chain with an
  /// exception thrown here, and each frame between the throw and the body's
  /// handler costs the unwinder thousands of instructions (g++ left it out
  /// of line in a larger translation unit: 1.7 times the time per level).
  [[gnu::always_inline]] decltype(auto) await_resume()
  {
    derived().leaving();
    coro_->resumed();
    if constexpr (Derived::quiet_cancel)
    {
      if (coro_->cancel_requested())
        return; // the body goes on to its end; its result is cancelled all the same
    }
    else
      coro_->throw_if_cancelled();
    return derived().take();
  }

  /// A Derived that sets it (to true) returns from a cancelled await
  /// instead of throwing (see quiet_operation): void awaits only.
  static constexpr bool quiet_cancel = false;

protected:
  explicit await_point(CoroState* t) noexcept : coro_(t) {}
  ~await_point() = default;

  void leaving() noexcept {}

  Derived& derived() noexcept { return static_cast<Derived&>(*this); }

  CoroState* coro_;
};

/// An await_point that is the cascade's target while the body waits: the
/// body suspends on it, and pause, unpause and cancel reach it.
/// @tparam Derived supplies, beyond await_point's, `void hand_over(resume_token&&)`:
///   gives the token to whatever resumes the body (it may be used at once,
///   on any thread: nothing of the awaiter is touched after handing it on);
///   and awaited_control's pause(), unpause(), cancel(), describe().
/// @tparam Control awaited_control, or a class derived from it that what
///   resumes the body reaches (operation_receiver).
template <class Derived, class CoroState, class Control = awaited_control>
class cascade_awaiter : public await_point<Derived, CoroState>, public Control
{
public:
  bool await_suspend(std::coroutine_handle<>)
  {
    return this->coro_->suspend_with(this,
        [this](resume_token token) { this->derived().hand_over(std::move(token)); });
  }

protected:
  using await_point<Derived, CoroState>::await_point;
  ~cascade_awaiter() = default;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_CASCADE_AWAITER_HPP
