//
// coflow/detail/awaited_control.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// What a suspended coroutine body waits on, as the cascade sees it: the
// interface every awaiter (and every tail-call source) implements, so that a
// pause, an unpause or a cancel of the coroutine reaches what it waits on.
//

#ifndef COFLOW_DETAIL_AWAITED_CONTROL_HPP
#define COFLOW_DETAIL_AWAITED_CONTROL_HPP

#include <typeinfo>

namespace coflow {
namespace detail {

class coroutine_state_base;

/// Receives, one by one, the coroutines that something waits on.
class awaited_visitor
{
public:
  virtual void operator()(const coroutine_state_base* awaited) noexcept = 0;

protected:
  ~awaited_visitor() = default;
};

/// The kinds of things a body can wait on (for introspection).
enum class awaited_kind : unsigned char
{
  coroutine, ///< a child coroutine (or the next state of a tail call)
  deferred,  ///< a deferred (or the deferred view of a coroutine)
  operation, ///< an Asio operation (use_coroutine, asio::deferred)
  awaitable, ///< an asio::awaitable, run by co_spawn
  fan_in,    ///< several children at once (a combinator, a group)
};

/// What an awaiter says about itself (DESIGN.md §8): its kind, and for an
/// Asio operation or an awaitable its completion signature. The coroutines
/// it waits on are reached through awaited_control::for_each_awaited().
struct awaited_description
{
  awaited_kind kind;
  /// The completion signature (an operation, an awaitable), else null.
  const std::type_info* signature = nullptr;
  /// A tail call's target, not an await.
  bool tail_call = false;
  /// A fan-in: which one ("join", "gather", "race", "timeout", "shield",
  /// "task_group").
  const char* name = nullptr;
};

/// What a suspended coroutine waits on, as the cascade sees it.
class awaited_control
{
public:
  virtual void pause() = 0;
  virtual void unpause() = 0;
  virtual void cancel() = 0;

  /// Calls @p visit with each coroutine this waits on that lives on the
  /// caller's executor (the only ones that may be read from here): one for
  /// a child, none for an operation, several for a node that waits on
  /// several children. Used to find cycles of awaits, and by introspection.
  virtual void for_each_awaited(awaited_visitor& visit) const noexcept { (void)visit; }

  /// What this is (see awaited_description).
  virtual awaited_description describe() const noexcept = 0;

  /// What the body awaits has delivered, and the caller owns the coroutine state (it
  /// resumes the body or holds its wake-up): an Asio operation's awaiter
  /// disconnects the operation's cancellation handler here.
  virtual void completed() noexcept {}

protected:
  ~awaited_control() = default;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_AWAITED_CONTROL_HPP
