//
// src/waiter_registry.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/detail/waiter_registry.hpp>

#include <coflow/detail/coroutine_state_base.hpp>

namespace coflow {
namespace detail {

boost::asio::execution_context::id waiter_registry::id;

namespace {

/// How many registries have been destroyed. A thread trusts its cached
/// (context, registry) pair only while none has been since it filled it:
/// a context built later may have the address of a destroyed one. (A
/// thread that reaches a new context learned of it through the program's
/// own synchronisation, which orders the destruction before its load.)
std::atomic<unsigned long long> registries_destroyed{0};

struct cached_registry
{
  boost::asio::execution_context* context = nullptr;
  waiter_registry* registry = nullptr;
  unsigned long long destroyed = 0;
};

constinit thread_local cached_registry last_registry;

} // namespace

waiter_registry::waiter_registry(boost::asio::execution_context& context)
  : boost::asio::execution_context::service(context)
{
}

waiter_registry::~waiter_registry()
{
  registries_destroyed.fetch_add(1, std::memory_order_release);
}

waiter_registry& waiter_registry::of(boost::asio::execution_context& context)
{
  const unsigned long long destroyed = registries_destroyed.load(std::memory_order_acquire);
  cached_registry& last = last_registry;
  if (last.context == &context && last.destroyed == destroyed) [[likely]]
    return *last.registry;
  waiter_registry& registry = boost::asio::use_service<waiter_registry>(context);
  last = {&context, &registry, destroyed};
  return registry;
}

void waiter_registry::add(registered_state& state)
{
  std::lock_guard<registry_lock> lock(lock_);
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
  std::lock_guard<registry_lock> lock(lock_);
  remove_locked(state);
}

void waiter_registry::remove_locked(registered_state& state) noexcept
{
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

std::size_t waiter_registry::listed_count() noexcept
{
  std::lock_guard<registry_lock> lock(lock_);
  std::size_t n = 0;
  for (registered_state* s = first_; s; s = s->next_)
    ++n;
  return n;
}

void waiter_registry::hold_roots(std::vector<coroutine_state_base*>& out) noexcept
{
  std::lock_guard<registry_lock> lock(lock_);
  for (registered_state* s = first_; s && out.size() < out.capacity(); s = s->next_)
    if (coroutine_state_base* root = s->listed_root(); root && root->try_add_ref())
      out.push_back(root); // within the capacity: no allocation, no throw
}

void waiter_registry::shutdown()
{
  // One state at a time, without the lock: destroying a waiter may destroy
  // other states, which then remove themselves.
  for (;;)
  {
    registered_state* state;
    {
      std::lock_guard<registry_lock> lock(lock_);
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
  (void)waiter_registry::of(context);
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
    waiter_registry::of(context).add(*this);
}


void registered_state::remove_from_registry() noexcept
{
  if (waiter_registry* registry = registry_)
    registry->remove(*this);
}

} // namespace detail
} // namespace coflow
