//
// src/waiter_registry.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/detail/waiter_registry.hpp>

#include <utility>

namespace coflow {
namespace detail {

boost::asio::execution_context::id waiter_registry::id;

waiter_registry::waiter_registry(boost::asio::execution_context& context)
  : boost::asio::execution_context::service(context)
{
}

waiter_registry::~waiter_registry() = default;

void waiter_registry::add(registered_state& state)
{
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_ || state.registry_)
    return;
  state.registry_ = this;
  state.prev_ = nullptr;
  state.next_ = first_;
  if (first_)
    first_->prev_ = &state;
  first_ = &state;
}

void waiter_registry::remove(registered_state& state) noexcept
{
  std::lock_guard<std::mutex> lock(mutex_);
  if (state.registry_ != this)
    return;
  if (state.prev_)
    state.prev_->next_ = state.next_;
  else
    first_ = state.next_;
  if (state.next_)
    state.next_->prev_ = state.prev_;
  state.registry_ = nullptr;
  state.prev_ = state.next_ = nullptr;
}

void waiter_registry::add_root(root_link& root) noexcept
{
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_ || root.registry_)
    return;
  root.registry_ = this;
  root.prev_ = last_root_;
  root.next_ = nullptr;
  if (last_root_)
    last_root_->next_ = &root;
  else
    first_root_ = &root;
  last_root_ = &root;
}

void waiter_registry::remove_root(root_link& root) noexcept
{
  std::lock_guard<std::mutex> lock(mutex_);
  if (root.registry_ != this)
    return;
  (root.prev_ ? root.prev_->next_ : first_root_) = root.next_;
  (root.next_ ? root.next_->prev_ : last_root_) = root.prev_;
  root.registry_ = nullptr;
  root.prev_ = root.next_ = nullptr;
}

void waiter_registry::shutdown()
{
  {
    // The roots outlive the registry (their handles): none refers to it.
    std::lock_guard<std::mutex> lock(mutex_);
    for (root_link* r = std::exchange(first_root_, nullptr); r;)
    {
      root_link* next = r->next_;
      r->registry_ = nullptr;
      r->prev_ = r->next_ = nullptr;
      r = next;
    }
    last_root_ = nullptr;
  }
  // One state at a time, without the lock: destroying a waiter may destroy
  // other states, which then remove themselves.
  for (;;)
  {
    registered_state* state;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shut_down_ = true;
      state = first_;
      if (!state)
        return;
      first_ = state->next_;
      if (first_)
        first_->prev_ = nullptr;
      state->registry_ = nullptr;
      state->prev_ = state->next_ = nullptr;
    }
    state->abandon_waiters();
  }
}

void ensure_waiter_registry(boost::asio::execution_context& context)
{
  (void)boost::asio::use_service<waiter_registry>(context);
}

bool context_shutting_down(boost::asio::execution_context& context) noexcept
{
  try
  {
    return !boost::asio::has_service<waiter_registry>(context)
        || boost::asio::use_service<waiter_registry>(context).shutting_down();
  }
  catch (...)
  {
    return true;
  }
}

void registered_state::register_waiters(boost::asio::execution_context& context)
{
  if (!registry_)
    boost::asio::use_service<waiter_registry>(context).add(*this);
}

void root_link::link(boost::asio::execution_context& context, coroutine_state_base* owner)
{
  owner_ = owner;
  if (!registry_)
    boost::asio::use_service<waiter_registry>(context).add_root(*this);
}

void root_link::remove_from_registry() noexcept
{
  if (waiter_registry* registry = registry_)
    registry->remove_root(*this);
}

void registered_state::remove_from_registry() noexcept
{
  if (waiter_registry* registry = registry_)
    registry->remove(*this);
}

} // namespace detail
} // namespace coflow
