//
// coflow/detail/task_group.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The state of a task_group (DESIGN.md §7): a fan-in node whose set of
// branches grows. The body and each child deliver into a sink of the group;
// a finished child's entry (and with it the group's handle of the child) is
// freed at once, so the group holds only what still runs. Children may be
// spawned from any thread of the executor and finish on any, and the
// awaiting coroutine's pause, unpause and cancel come from any thread: one
// mutex orders them. Pause, unpause and cancel of a child only record and
// queue under it (they never run coroutine code, nor deliver), so nothing
// re-enters the group while it is held.
//
// A forward made inside a control call is queued on that thread and applied
// after the group's own forward has returned, while the awaiting coroutine
// stays locked (the core's rule: a locked coroutine's awaiter keeps the
// children it forwarded to alive). A finished member's entry holds the
// group's handle of that child, so while the awaiting coroutine is locked
// the entry is not freed but buried, and freed at the next member's end or
// spawn that finds it unlocked, or with the group.
//

#ifndef COFLOW_DETAIL_TASK_GROUP_HPP
#define COFLOW_DETAIL_TASK_GROUP_HPP

#include <coflow/coroutine.hpp>
#include <coflow/detail/cascade_awaiter.hpp>
#include <coflow/detail/coroutine_access.hpp>
#include <coflow/detail/fan_in.hpp>
#include <coflow/detail/result_sink.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace coflow {
namespace detail {

class group_state;

/// One running member of a group (the body, or a child): its place in the
/// group's list, and the cascade to it.
class group_entry
{
public:
  group_entry* prev = nullptr;
  group_entry* next = nullptr;
  bool paused = false; ///< holds one pause of the group's

  virtual void pause() = 0;
  virtual void unpause() = 0;
  virtual void cancel() = 0;
  virtual const coroutine_state_base* state() const noexcept = 0;
  virtual ~group_entry() = default;
};

/// What the group awaits: the body, each child; see the file comment.
class group_state
{
public:
  using executor_type = boost::asio::any_io_executor;

  explicit group_state(executor_type ex) : executor_(std::move(ex)) {}

  const executor_type& executor() const noexcept { return executor_; }

  std::size_t size() const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    return children_;
  }

  /// Starts @p c as a member: @p body is the body's coroutine (started on
  /// the pump the awaiting body runs in), else a child (posted, as spawn).
  template <class T, class E>
  coroutine<T, E> add(coroutine<T, E> c, bool body)
  {
    if (!c)
      throw std::logic_error("coflow: task_group::spawn of an empty coroutine handle");
    auto& state = coroutine_access::state_of(c);
    if (state.started())
      throw std::logic_error("coflow: the coroutine has already started");
    auto entry = std::make_unique<member<T, E>>(this, c);
    group_entry* dead = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!open_) // (the awaiting coroutine may be gone: waiter_ is not read)
        throw std::logic_error("coflow: task_group::spawn after the group has completed");
      dead = take_buried();
      state.prepare_branch(executor_, entry.get());
      // Started paused or cancelled, as the group is now.
      if (paused_)
      {
        entry->paused = true;
        c.pause();
      }
      if (cancelled_)
        c.cancel();
      link(entry.release());
      if (!body)
        ++children_;
    }
    free_entries(dead);
    // The group is open until this member has delivered: the start may go
    // now, and the member may finish at once on another thread.
    if (body)
      state.start_queued();
    else
      state.post_start();
    return c;
  }

  ~group_state() { free_entries(std::exchange(buried_, nullptr)); }

  /// The awaiting coroutine @p waiter's token: resumed once every member
  /// has delivered (the body is added next, so the group cannot end before).
  void wait(resume_token token, const coroutine_state_base* waiter)
  {
    waiting_ = std::move(token);
    waiter_ = waiter;
  }

  void pause()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = true;
    for (group_entry* e = head_; e; e = e->next)
      if (!e->paused)
      {
        e->paused = true;
        e->pause();
      }
  }

  void unpause()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = false;
    for (group_entry* e = head_; e; e = e->next)
      if (e->paused)
      {
        e->paused = false;
        e->unpause();
      }
  }

  void cancel()
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancel_all();
  }

  template <class Visit>
  void for_each_member(Visit&& visit) const
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const group_entry* e = head_; e; e = e->next)
      visit(e->state());
  }

  /// The first failure, once the group has completed.
  std::exception_ptr failure() const noexcept { return failure_; }

  /// Member @p e has delivered @p error (null for a value), @p cancelled
  /// if it was cancelled itself: see DESIGN.md §7 for what counts as a
  /// failure. Frees @p e. The last member resumes
  /// the awaiting coroutine, after which nothing here is touched.
  void member_done(group_entry* e, std::exception_ptr error, bool body, bool cancelled) noexcept
  {
    std::exception_ptr unreported;
    bool done = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      e = remove_member(e, body);
      // A child that was itself cancelled (by the group, or through its
      // own handle) has not failed; a cancelled_error that comes out of
      // its work (something it awaited was cancelled) is a failure, as is
      // every error of the body.
      if (error && (body || !cancelled))
      {
        if (!failure_)
        {
          failure_ = error;
          cancel_all();
        }
        else if (!is_cancel(error))
          unreported = error;
      }
      done = close_if_done();
    }
    free_entries(e);
    if (unreported)
      report_unhandled_error(unreported);
    if (done)
      std::move(waiting_).resume();
  }

  /// Member @p e was abandoned at shutdown: @returns the token to abandon
  /// next after the last one.
  resume_token member_abandoned(group_entry* e, bool body) noexcept
  {
    bool done = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      e = remove_member(e, body);
      done = close_if_done();
    }
    free_entries(e);
    return done ? std::move(waiting_) : resume_token();
  }

private:
  template <class T, class E>
  class member final : public group_entry, public result_sink<T>
  {
  public:
    member(group_state* group, const coroutine<T, E>& c) : group_(group), child_(c) {}

    void pause() override { child_.pause(); }
    void unpause() override { child_.unpause(); }
    void cancel() override { child_.cancel(); }
    const coroutine_state_base* state() const noexcept override
    {
      return coroutine_access::state_pointer(child_);
    }

    void receive(outcome<T> r) override
    {
      if (r.index() == 1)
        error_ = std::get<1>(std::move(r));
    }
    void delivered() noexcept override
    {
      const bool cancelled = coroutine_access::state_pointer(child_)->cancel_requested();
      group_->member_done(this, std::move(error_), body(), cancelled);
    }
    resume_token abandoned() noexcept override { return group_->member_abandoned(this, body()); }

  private:
    bool body() const noexcept { return this == group_->body_; }

    group_state* group_;
    coroutine<T, E> child_;
    std::exception_ptr error_;
  };

  void link(group_entry* e) noexcept
  {
    if (!body_)
      body_ = e;
    e->next = head_;
    if (head_)
      head_->prev = e;
    head_ = e;
  }

  /// Under the lock: member @p e (@p body: the body) has ended. @returns
  /// what to free_entries() once the lock is released.
  group_entry* remove_member(group_entry* e, bool body) noexcept
  {
    unlink(e);
    if (body)
      body_done_ = true;
    else
      --children_;
    return bury_or_take(e);
  }

  /// Under the lock: @returns whether the last member has ended, which
  /// closes the group (the caller resumes or abandons the waiting token).
  bool close_if_done() noexcept
  {
    if (!body_done_ || head_)
      return false;
    open_ = false;
    return true;
  }

  void unlink(group_entry* e) noexcept
  {
    (e->prev ? e->prev->next : head_) = e->next;
    if (e->next)
      e->next->prev = e->prev;
  }

  /// Under the lock, for a finished member's entry @p e: buried while the
  /// awaiting coroutine is locked by a control call (see the file comment),
  /// else returned with every entry buried before, for free_entries().
  group_entry* bury_or_take(group_entry* e) noexcept
  {
    if (waiter_ && waiter_->locked_for_control())
    {
      e->next = buried_;
      buried_ = e;
      return nullptr;
    }
    e->next = take_buried();
    return e;
  }

  /// Under the lock: the buried entries, if none may be in use any more.
  group_entry* take_buried() noexcept
  {
    if (!buried_ || (waiter_ && waiter_->locked_for_control()))
      return nullptr;
    return std::exchange(buried_, nullptr);
  }

  /// Outside the lock: frees a list of entries (linked through next).
  static void free_entries(group_entry* e) noexcept
  {
    while (e)
      delete std::exchange(e, e->next);
  }

  /// Under the lock.
  void cancel_all() noexcept
  {
    cancelled_ = true;
    for (group_entry* e = head_; e; e = e->next)
    {
      try
      {
        e->cancel();
      }
      catch (...)
      {
        report_unhandled_error(std::current_exception());
      }
    }
  }

  mutable std::mutex mutex_;
  executor_type executor_;
  group_entry* head_ = nullptr;
  group_entry* buried_ = nullptr; ///< finished, not yet freed (see bury_or_take)
  const group_entry* body_ = nullptr; ///< the first member added
  /// The awaiting coroutine; read only while the group is open (a copy of
  /// the task_group may outlive it).
  const coroutine_state_base* waiter_ = nullptr;
  std::size_t children_ = 0;
  bool open_ = true;
  bool body_done_ = false;
  bool paused_ = false;
  bool cancelled_ = false;
  std::exception_ptr failure_;
  resume_token waiting_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_TASK_GROUP_HPP
