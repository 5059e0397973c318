//
// coflow/detail/waiter_registry.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Per-execution-context list of shared states that hold waiting consumers
// (and of the spawned coroutines that run: the roots of await_forest()).
//
// A consumer (an Asio handler, which may own an asio::awaitable frame or a
// coroutine frame) waits inside the shared state of a deferred, and that frame
// often holds a handle to the same state: a cycle that nothing breaks if the
// deferred is never fired. Asio breaks the same cycle for its own I/O objects
// by letting services destroy pending operations at shutdown; the registry does
// this for coflow, so destroying the execution context destroys every waiting
// frame exactly once and nothing leaks.
//

#ifndef COFLOW_DETAIL_WAITER_REGISTRY_HPP
#define COFLOW_DETAIL_WAITER_REGISTRY_HPP

#include <boost/asio/execution_context.hpp>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

namespace coflow {
namespace detail {

class waiter_registry;
class coroutine_state_base;

/// The part of every shared state that the registry sees.
class registered_state
{
public:
  registered_state() = default;
  registered_state(const registered_state&) = delete;
  registered_state& operator=(const registered_state&) = delete;

protected:
  ~registered_state() = default;

  /// Context shutdown: destroys the waiting consumers without invoking them.
  virtual void abandon_waiters() noexcept = 0;

  /// The coroutine state this lists as a root of its context (a spawned
  /// coroutine's extras, while it runs), else null. See await_forest().
  virtual coroutine_state_base* listed_root() const noexcept { return nullptr; }

  /// Adds this state to the registry of @p context (idempotent).
  void register_waiters(boost::asio::execution_context& context);

  /// Removes this state from its registry (idempotent).
  void unregister_waiters() noexcept
  {
    if (registry_)
      remove_from_registry();
  }

  bool waiters_registered() const noexcept { return registry_ != nullptr; }

  /// Runs @p f, then (unless @p stay_listed) removes this from its
  /// registry, under the registry's lock (if it is listed): a change of what
  /// listed_root() says is then atomic for the registry's readers.
  template <class Function>
  void under_registry_lock(Function&& f, bool stay_listed) noexcept;

private:
  friend class waiter_registry;
  void remove_from_registry() noexcept;

  waiter_registry* registry_ = nullptr;
  registered_state* prev_ = nullptr;
  registered_state* next_ = nullptr;
};

/// Builds the registry of @p context if it has none (a spawn does, so that
/// a later handler dropped outside shutdown can be told from one dropped by
/// the shutdown).
void ensure_waiter_registry(boost::asio::execution_context& context);

/// Whether @p context is shutting down (its registry has been shut down), or
/// has no registry (then nothing can tell: treated as shutting down).
bool context_shutting_down(boost::asio::execution_context& context) noexcept;

/// The registry's lock. Every spawn takes it twice (listed, then removed
/// at its end) for a few pointer writes: std::mutex made that a tenth of a
/// spawn's instructions (pthread's lock and unlock). A contended lock()
/// waits on the word (C++20 atomic wait: a futex after a short spin), so a
/// long holder (await_forest() walking the list) costs the others no CPU; an
/// int, so that unlock()'s notify only reads whether anyone waits.
class registry_lock
{
public:
  void lock() noexcept
  {
    while (held_.exchange(1, std::memory_order_acquire) != 0)
      held_.wait(1, std::memory_order_relaxed);
  }

  void unlock() noexcept
  {
    held_.store(0, std::memory_order_release);
    held_.notify_one();
  }

private:
  std::atomic<int> held_{0};
};

/// The execution-context service that owns the list.
class waiter_registry : public boost::asio::execution_context::service
{
public:
  static boost::asio::execution_context::id id;

  explicit waiter_registry(boost::asio::execution_context& context);
  ~waiter_registry() override;

  /// The registry of @p context, built if it has none. Asio's use_service()
  /// takes the context's service mutex at every call; this looks up through
  /// a per-thread cache of the last context's registry first.
  static waiter_registry& of(boost::asio::execution_context& context);

  bool shutting_down() noexcept
  {
    std::lock_guard<registry_lock> lock(lock_);
    return shut_down_;
  }

  /// How many states are listed (an upper bound of the roots).
  std::size_t listed_count() noexcept;

  /// Appends to @p out, up to its capacity (nothing is allocated under the
  /// lock), every listed root (see registered_state::listed_root()), newest
  /// first, with a reference added (a root being destroyed is left out).
  void hold_roots(std::vector<coroutine_state_base*>& out) noexcept;

private:
  friend class registered_state;

  void add(registered_state& state);
  void remove(registered_state& state) noexcept;
  void remove_locked(registered_state& state) noexcept;
  void shutdown() override;

  registry_lock lock_;
  registered_state* first_ = nullptr;
  bool shut_down_ = false;
};

template <class Function>
void registered_state::under_registry_lock(Function&& f, bool stay_listed) noexcept
{
  // registry_ changes only under the registry's lock, or by this state's
  // owner: the owner reads it here.
  waiter_registry* registry = registry_;
  if (!registry)
    return std::forward<Function>(f)();
  std::lock_guard<registry_lock> lock(registry->lock_);
  std::forward<Function>(f)();
  if (!stay_listed && registry_ == registry)
    registry->remove_locked(*this);
}

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_WAITER_REGISTRY_HPP
