//
// coflow/detail/operation_awaiter.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Awaiting an Asio asynchronous operation (use_coroutine, asio::deferred, or
// an asio::awaitable through co_spawn) from a coroutine body. The awaiter owns
// the cancellation signal bound to the operation; it lives in the suspended
// frame, which outlives the operation: the body resumes only from the
// operation's handler.
//

#ifndef COFLOW_DETAIL_OPERATION_AWAITER_HPP
#define COFLOW_DETAIL_OPERATION_AWAITER_HPP

#include <coflow/detail/cascade_awaiter.hpp>
#include <coflow/detail/operation_launch.hpp>
#include <coflow/detail/operation_outcome.hpp>
#include <coflow/detail/outcome.hpp>
#include <coflow/detail/coroutine_state_base.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <coroutine>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace coflow {
namespace detail {

/// What an operation's completion handler reaches of its awaiter. It
/// depends on the operation's value alone, so that the handler, and every
/// composed operation and executor function instantiated with it, is one
/// type for all the coroutines that await such an operation, as Asio's
/// awaitable handler depends on the signature alone: not one per coroutine
/// type (a Beast server's code then grew by half).
template <class Value>
class operation_receiver : public awaited_control
{
public:
  template <class... Args>
  void receive(Args&&... args)
  {
    result_.emplace(operation_outcome<Value>(std::forward<Args>(args)...));
  }

  boost::asio::cancellation_slot slot() noexcept { return signal_.slot(); }

protected:
  ~operation_receiver() = default;

  boost::asio::cancellation_signal signal_;
  std::optional<outcome<Value>> result_;
};

template <class Value, class Executor>
class operation_handler
{
public:
  using executor_type = Executor;
  using cancellation_slot_type = boost::asio::cancellation_slot;

  /// @p token's coroutine state awaits the operation (its awaited operation
  /// is the receiver): the handler holds the token alone, as small as asio's.
  explicit operation_handler(resume_token token) noexcept : token_(std::move(token)) {}

  /// The coroutine's executor, read from its coroutine state (as asio's
  /// awaitable handler reads it from its frame): nothing is copied per
  /// operation.
  executor_type get_executor() const noexcept
  {
    return *static_cast<const Executor*>(token_.get()->executor_address());
  }

  cancellation_slot_type get_cancellation_slot() const noexcept
  {
    return receiver()->slot();
  }

  template <class... Args>
  void operator()(Args&&... args)
  {
    if (!token_.claim())
      return; // its suspension failed: the awaiter is gone
    receiver()->receive(std::forward<Args>(args)...);
    // The slot is cleared by whoever takes the coroutine state to resume the body or
    // hold its wake-up (see operation_awaiter::completed()), not here: a
    // control call on another thread may hold the coroutine state locked and be
    // emitting on that slot right now.
    std::move(token_).resume();
  }

private:
  /// Until the body resumes, what its coroutine state awaits is this operation.
  operation_receiver<Value>* receiver() const noexcept
  {
    return static_cast<operation_receiver<Value>*>(token_.get()->awaited());
  }

  resume_token token_;
};

/// The awaiter whose cancel this thread is dispatching to the executor
/// right now (see operation_awaiter::cancel()).
inline const void*& cancel_dispatched_inline() noexcept
{
  static thread_local const void* awaiter = nullptr;
  return awaiter;
}

/// @tparam Launch callable as `std::move(launch)(handler)`: initiates; its
/// `kind` says what it launches (see operation_launch.hpp).
/// @tparam Quiet a cancel returns from the await instead of throwing (see
///   quiet_operation).
template <class CoroState, class Signature, class Launch, bool Quiet = false>
class operation_awaiter final
  : public cascade_awaiter<operation_awaiter<CoroState, Signature, Launch, Quiet>, CoroState,
        operation_receiver<typename signature_value<Signature>::type>>
{
public:
  using value_type = typename signature_value<Signature>::type;
  static constexpr bool quiet_cancel = Quiet;

  operation_awaiter(CoroState* t, Launch launch)
    : operation_awaiter::cascade_awaiter(t), launch_(std::move(launch))
  {
  }

  operation_awaiter(const operation_awaiter&) = delete;
  operation_awaiter& operator=(const operation_awaiter&) = delete;

  ~operation_awaiter()
  {
    if (lent_) [[unlikely]]
      this->coro_->end_lent_cancel_epoch(); // a lent cancel still queued finds it
  }

  /// An operation completes through its handler, never at once.
  bool ready() const noexcept { return false; }

  void hand_over(resume_token&& token)
  {
    using handler = operation_handler<value_type, typename CoroState::executor_type>;
    std::move(launch_)(handler(std::move(token)));
  }

  /// The body goes on: the operation's cancellation handler goes first.
  void leaving() noexcept { completed(); }

  value_type take() { return unwrap<value_type>(std::move(*this->result_)); }

  awaited_description describe() const noexcept override
  {
    return {Launch::kind, &typeid(Signature)};
  }


  /// The operation is over: its cancellation handler, which may refer to
  /// an I/O object that goes before the body resumes (a held wake-up), must
  /// never run again (as asio's awaitable handler clears its slot). Called
  /// by the coroutine state's owner, so no control call is emitting meanwhile.
  void completed() noexcept override
  {
    // Tested inline first: most operations (a post, a dispatch) never
    // install a cancellation handler, and clear() is out of line.
    if (boost::asio::cancellation_slot slot = this->signal_.slot(); slot.has_handler())
      slot.clear();
  }

  // While paused, the coroutine state holds the wake-up: the operation runs on.
  void pause() override {}
  void unpause() override {}

  /// Asio emits an operation's cancellation where the operation runs, on
  /// its executor (a cancellation handler need not be thread-safe, and
  /// Boost 1.81's co_spawn handler, reached from any other thread, posts
  /// the emission with a pointer into itself, which dangles once the
  /// awaitable completes: Asio issue 1332). So does coflow: on a thread
  /// that runs the coroutine's executor the signal is emitted at once,
  /// under the control call's lock; from any other thread the cancel is
  /// lent to the executor, which locks the coroutine state to emit it, unless that
  /// await is over by then.
  void cancel() override
  {
    const void*& dispatched = cancel_dispatched_inline();
    const void* outer = std::exchange(dispatched, this);
    try
    {
      boost::asio::dispatch(
          this->coro_->executor(), lent_cancel(this, this->coro_->lent_cancel_epoch()));
    }
    catch (...)
    {
      const bool ran = dispatched != this;
      dispatched = outer;
      if (ran)
        throw; // from the emission itself
      // It could not be lent (no memory): emitted on this thread, under
      // the lock, rather than lost (from outside the executor, an awaited
      // asio::awaitable then meets Asio issue 1332: out of memory only).
      emit();
      return;
    }
    lent_ = dispatched == this;
    dispatched = outer;
  }

private:
  /// A cancel on its way to the executor: holds a reference to the coroutine state,
  /// so that it may look at it whenever it runs.
  class lent_cancel
  {
  public:
    lent_cancel(operation_awaiter* a, std::uint32_t epoch)
      : executor_(a->coro_->executor()), coro_(a->coro_), awaiter_(a), epoch_(epoch)
    {
      coro_->add_ref();
    }

    lent_cancel(lent_cancel&& other) noexcept
      : executor_(std::move(other.executor_)), coro_(std::exchange(other.coro_, nullptr)),
        awaiter_(other.awaiter_), epoch_(other.epoch_)
    {
    }

    lent_cancel& operator=(lent_cancel&&) = delete;

    ~lent_cancel()
    {
      if (coro_)
        coro_->release();
    }

    void operator()()
    {
      const void*& dispatched = cancel_dispatched_inline();
      if (dispatched == awaiter_)
      {
        dispatched = nullptr; // ran inline: the control call holds the lock
        return awaiter_->emit();
      }
      pump::run_control([this] { emit_locked(); });
    }

  private:
    void emit_locked()
    {
      CoroState* t = coro_;
      if (t->lent_cancel_epoch_now() != epoch_)
        return; // the await is over (its awaiter is gone)
      if (!t->try_lock_suspended())
      {
        // Running, being suspended or resumed, or another control call
        // holds it: briefly. Come back after what is queued. (A handler:
        // nothing may escape into run(); a post that fails loses this cancel
        // of the operation, not the coroutine's, which stays requested.)
        try
        {
          boost::asio::post(executor_, std::move(*this));
        }
        catch (...)
        {
          report_unhandled_error(std::current_exception());
        }
        return;
      }
      // Locked: the await cannot end meanwhile.
      if (t->lent_cancel_epoch_now() == epoch_)
      {
        try
        {
          awaiter_->emit();
        }
        catch (...)
        {
          report_unhandled_error(std::current_exception());
        }
      }
      t->unlock_locked();
    }

    /// The coroutine state's, copied: the coroutine state may change it when it finishes.
    typename CoroState::executor_type executor_;
    CoroState* coro_;
    /// Touched only while the await it was lent by lasts.
    operation_awaiter* awaiter_;
    std::uint32_t epoch_;
  };

  void emit() { this->signal_.emit(boost::asio::cancellation_type::terminal); }

  Launch launch_;
  /// A cancel was lent to the executor (see cancel()).
  bool lent_ = false;
};

/// An operation awaited by one of the library's own coroutines that has
/// nothing to do after it (the timer of sleep(), and so of timeout()): a
/// cancel returns from the await instead of throwing, and the coroutine's
/// result is cancelled_error all the same, set without unwinding. A
/// deadline that does not fire is the common case, and its unwinding cost
/// more than the rest of a request's work in a proxy (example/proxy).
template <class Operation>
struct quiet_operation
{
  Operation op;

  template <class CoroState>
  auto awaiter_for(CoroState* t) &&
  {
    using launch = launch_operation<Operation>;
    using signature = typename Operation::signature;
    static_assert(std::is_void_v<typename signature_value<signature>::type>,
        "a quiet operation delivers nothing");
    return operation_awaiter<CoroState, signature, launch, true>(t, launch{std::move(op)});
  }
};

template <class Operation>
quiet_operation(Operation) -> quiet_operation<Operation>;

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_OPERATION_AWAITER_HPP
