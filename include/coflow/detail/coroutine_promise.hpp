//
// coflow/detail/coroutine_promise.hpp
//
// The promise of coroutine<T, Executor> and the awaiters of what a body can
// await, each of which is the cascade's target while the body waits on it.
//

#ifndef COFLOW_DETAIL_COROUTINE_PROMISE_HPP
#define COFLOW_DETAIL_COROUTINE_PROMISE_HPP

#include <coflow/coroutine.hpp>
#include <coflow/detail/deferred_waiter.hpp>
#include <coflow/detail/operation_awaiter.hpp>
#include <coflow/detail/frame_block.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>

#include <coroutine>
#include <optional>
#include <type_traits>

namespace coflow {

template <class Next>
class tail_call_t;

namespace detail {

struct coroutine_access
{
  template <class T, class Executor>
  static coroutine<T, Executor> adopt(task<T, Executor>* t) noexcept
  {
    return coroutine<T, Executor>(t);
  }

  template <class T, class Executor>
  static task<T, Executor>& task_of(const coroutine<T, Executor>& c)
  {
    return c.checked();
  }

  template <class T, class Executor>
  static task<T, Executor>* task_pointer(const coroutine<T, Executor>& c) noexcept
  {
    return c.task_;
  }
};

/// The value of an outcome (moved out, by value), or its error thrown.
template <class U>
U unwrap(outcome<U>&& o)
{
  if (o.index() == 1)
    std::rethrow_exception(std::get<1>(o));
  if constexpr (std::is_void_v<U>)
    return;
  else
    return std::get<0>(std::move(o));
}

/// The handler that a suspended body leaves with a deferred's chain: stores
/// the outcome in the awaiter and resumes the body on its executor.
template <class Receiver, class U, class Executor>
class wakeup_handler
{
public:
  using executor_type = Executor;
  /// Marks a handler called with the outcome itself (see waiter_link).
  using takes_outcome = void;

  wakeup_handler(resume_token token, Receiver* receiver) noexcept
    : token_(std::move(token)), receiver_(receiver)
  {
  }

  /// The waiting coroutine's executor, read from its task: not copied.
  executor_type get_executor() const noexcept { return receiver_->executor(); }

  /// Identifies the waiting awaiter (see deferred_state::cancel_waiter).
  const void* consumer() const noexcept { return receiver_; }

  void operator()(outcome<U> result)
  {
    if (!token_.claim())
      return; // its suspension failed: the receiver is gone
    receiver_->receive(std::move(result));
    std::move(token_).resume();
  }

private:
  resume_token token_;
  Receiver* receiver_;
};

/// Equality of two executors of possibly different types.
template <class E1, class E2>
bool same_executor(const E1& a, const E2& b)
{
  if constexpr (std::is_same_v<E1, E2>)
    return a == b;
  else if constexpr (std::is_convertible_v<const E2&, E1>)
    return a == E1(b);
  else if constexpr (std::is_convertible_v<const E1&, E2>)
    return E2(a) == b;
  else
    return false;
}

/// Posts @p f to @p ex; what it throws there goes to the unhandled-error
/// handler, as it would from the same call made on the caller's executor,
/// instead of escaping the run() of whoever runs the executor.
template <class Executor, class Function>
void post_reported(const Executor& ex, Function&& f)
{
  boost::asio::post(ex, [f = std::forward<Function>(f)]() mutable {
    try
    {
      f();
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
  });
}

/// Runs @p f now when the target lives on the caller's executor, otherwise
/// posts it to the target's executor: a shared object is only touched from
/// its own executor, as Asio requires. Posted, never dispatched: a dispatch
/// may run inline (when the calling thread happens to run the target's
/// strand too) and overtake what was posted before it, so that an unpause
/// could reach a child before the pause it balances.
template <class Executor, class Function>
void run_on(bool local, const Executor& ex, Function&& f)
{
  if (local)
    std::forward<Function>(f)();
  else
    post_reported(ex, std::forward<Function>(f));
}

/// The coroutine that produces @p state, when it is a coroutine's deferred
/// view (null otherwise).
template <class State>
const task_base* producer_of(const State& state) noexcept
{
  const auto* c = state.canceller();
  return c ? c->producer() : nullptr;
}

/// Throws if waiting on @p state from @p waiter would close a cycle: the
/// state is the deferred view of @p waiter, or of a coroutine that waits on
/// it (read only on the waiter's executor).
template <class State>
void check_view_cycle(const State& state, const task_base* waiter, const char* self,
    const char* cycle)
{
  if (const task_base* p = producer_of(state); p && p->waits_on(waiter))
    throw std::logic_error(p == waiter ? self : cycle);
}

/// Waits on a deferred's shared state as a consumer at the end of its chain.
template <class Task, class U, class E>
class shared_state_wait
{
public:
  using state_type = deferred_state<U, E>;

  explicit shared_state_wait(Task* t, std::shared_ptr<state_type> s = nullptr) noexcept
    : task_(t), state_(std::move(s))
  {
  }

  void attach(std::shared_ptr<state_type> s) noexcept { state_ = std::move(s); }

  /// The result is there and nothing holds it: no suspension needed.
  bool try_now()
  {
    if (task_->pause_count() == 0 && state_->can_deliver_now())
    {
      result_.emplace(state_->take_outcome());
      return true;
    }
    return false;
  }

  /// Appends the consumer that carries @p token (the body's running
  /// reference). Runs on the state's executor.
  void wait(resume_token token)
  {
    using handler = wakeup_handler<shared_state_wait, U,
        typename Task::executor_type>;
    state_->append(waiter_link<state_type, handler>::create(
        handler(std::move(token), this), {}));
  }

  void receive(outcome<U> result) { result_.emplace(std::move(result)); }

  const typename Task::executor_type& executor() const { return task_->executor(); }

  U take() { return unwrap<U>(std::move(*result_)); }

  outcome<U> take_outcome() { return std::move(*result_); }

  state_type& state() const noexcept { return *state_; }
  const std::shared_ptr<state_type>& shared_state() const noexcept { return state_; }

  /// Applies @p member (pause, unpause or cancel) to the state: now when it
  /// is @p local, otherwise on its executor.
  template <class Member>
  void control(bool local, Member member)
  {
    if (local)
      ((*state_).*member)();
    else
      post_reported(state_->executor(), [s = state_, member] { ((*s).*member)(); });
  }

private:
  Task* task_;
  std::shared_ptr<state_type> state_;
  std::optional<outcome<U>> result_;
};

/// co_await deferred<U, E>: pause and cancel are forwarded to the deferred,
/// on the deferred's executor.
template <class Task, class U, class E>
class deferred_awaiter final : public awaited_control
{
public:
  deferred_awaiter(Task* t, std::shared_ptr<deferred_state<U, E>> s)
    : task_(t),
      local_(same_executor(t->executor(), s->executor())),
      wait_(t, std::move(s))
  {
  }

  bool await_ready()
  {
    if (task_->cancel_requested())
      return true;
    if (!local_)
      return false;
    check_view_cycle(wait_.state(), task_, "coflow: a coroutine awaits itself",
        "coflow: a cycle of coroutines awaiting each other");
    return wait_.try_now();
  }

  bool await_suspend(std::coroutine_handle<>)
  {
    return task_->suspend_with(this, [this](resume_token token) {
      run_on(local_, wait_.state().executor(),
          [this, token = std::move(token)]() mutable { wait_.wait(std::move(token)); });
    });
  }

  const task_base* awaited_task() const noexcept override
  {
    return local_ ? producer_of(wait_.state()) : nullptr; // a coroutine's view
  }

  U await_resume()
  {
    task_->resumed();
    task_->throw_if_cancelled();
    return wait_.take();
  }

  void pause() override { wait_.control(local_, &deferred_state<U, E>::pause); }
  void unpause() override { wait_.control(local_, &deferred_state<U, E>::unpause); }
  void cancel() override
  {
    // A result that has fired and is only held by a pause is not waited
    // for: this consumer leaves the chain (DESIGN.md section 4, cancel).
    run_on(local_, wait_.state().executor(),
        [s = wait_.shared_state(), consumer = static_cast<const void*>(&wait_)] {
          s->cancel_waiter(consumer);
        });
  }

private:

  Task* task_;
  bool local_;
  shared_state_wait<Task, U, E> wait_;
};

/// co_await coroutine<U, E>: an unstarted child starts inline (on the
/// parent's executor) and resumes the parent when done; a started one is
/// waited on through its shared state. Either way pause and cancel go to the
/// child's task, on the child's executor.
template <class Task, class U, class E>
class child_awaiter final : public awaited_control
{
public:
  child_awaiter(Task* parent, coroutine<U, E>&& child) noexcept
    : parent_(parent), child_(std::move(child))
  {
  }

  [[gnu::always_inline]] bool await_ready()
  {
    if (parent_->cancel_requested())
      return true;
    if (!child()->started())
      return false;
    return await_ready_started();
  }

  /// await_ready() of a started child (out of line: the common child is
  /// not started).
  [[gnu::noinline]] bool await_ready_started()
  {
    local_ = same_executor(parent_->executor(), child()->executor());
    if (local_ && child()->waits_on(parent_))
      throw std::logic_error(child() == static_cast<const task_base*>(parent_)
              ? "coflow: a coroutine awaits itself"
              : "coflow: a cycle of coroutines awaiting each other");
    shared_.emplace(parent_);
    if (!local_)
      return false; // its state is touched only from its executor
    shared_->attach(child()->shared());
    return shared_->try_now();
  }

  bool await_suspend(std::coroutine_handle<>)
  {
    if (!shared_)
    {
      parent_->suspend_on(this);
      try
      {
        return child()->start_inline(parent_->executor(), parent_);
      }
      catch (...)
      {
        parent_->suspension_failed(); // thrown before the child started
        throw;
      }
    }
    return wait_shared();
  }

  /// A started child: the parent waits on its shared state (out of line:
  /// the inline start above is the common path).
  [[gnu::noinline]] bool wait_shared()
  {
    return parent_->suspend_with(this, [this](resume_token token) {
      run_on(local_, child()->executor(), [this, token = std::move(token)]() mutable {
        if (!local_)
          shared_->attach(child()->shared());
        shared_->wait(std::move(token));
      });
    });
  }

  U await_resume()
  {
    parent_->resumed();
    parent_->throw_if_cancelled();
    if (shared_)
      return shared_->take();
    return child()->take_value();
  }

  const task_base* awaited_task() const noexcept override
  {
    return local_ ? child() : nullptr; // another executor's task is not read
  }

  void pause() override
  {
    if (local_)
      child()->pause();
    else
      post_reported(child()->executor(), [c = child_] { c.pause(); });
  }

  void unpause() override
  {
    if (local_)
      child()->unpause();
    else
      post_reported(child()->executor(), [c = child_] { c.unpause(); });
  }

  void cancel() override
  {
    if (local_)
      child()->cancel();
    else
      post_reported(child()->executor(), [c = child_] { c.cancel(); });
  }

private:
  task<U, E>* child() const noexcept { return coroutine_access::task_pointer(child_); }

  Task* parent_;
  coroutine<U, E> child_;
  bool local_ = true; // an unstarted child runs on the parent's executor
  /// Only for a child started elsewhere: waits on its shared state.
  std::optional<shared_state_wait<Task, U, E>> shared_;
};

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
/// coroutine (its promise is rebound to the running task); any other one is
/// waited on through a tail_source.
template <class T, class Executor>
class coroutine_tail_awaiter
{
public:
  using task_type = task<T, Executor>;

  coroutine_tail_awaiter(task_type* t, coroutine<T, Executor>&& next) noexcept
    : task_(t), next_(std::move(next))
  {
  }

  /// A tail call is a suspension point: a pending cancel stops it here.
  bool await_ready() const
  {
    const task_type* n = coroutine_access::task_pointer(next_);
    if (n->started() && same_executor(task_->executor(), n->executor())
        && n->waits_on(task_))
      throw std::logic_error(n == task_
              ? "coflow: a coroutine tail-calls itself"
              : "coflow: a tail call to a coroutine that awaits the caller");
    return task_->cancel_requested();
  }

  void await_suspend(std::coroutine_handle<>)
  {
    // This awaiter lives in the frame that goes: everything on the stack.
    task_type* const t = task_;
    task_type* const n = coroutine_access::task_pointer(next_);
    if (n->adoptable())
    {
      auto next_frame = std::coroutine_handle<coroutine_promise<T, Executor>>::from_address(
          n->give_frame().address());
      next_frame.promise().rebind(t);
      next_ = {}; // the next state's own identity goes; its frame stays
      return t->swap_frame(next_frame);
    }
    if (n->accepts_tail_sink() && same_executor(t->executor(), n->executor()))
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

  /// Reached only with a cancel pending (the frame is gone otherwise).
  T await_resume()
  {
    std::rethrow_exception(shared_cancelled_error());
  }

private:
  class source final : public tail_source<T>
  {
  public:
    source(task_type* t, coroutine<T, Executor> next)
      : next_(std::move(next)), wait_(t)
    {
      task_type* n = coroutine_access::task_pointer(next_);
      if (!n->started())
        n->start_posted(t->executor()); // shared but unstarted: spawned here
      local_ = same_executor(t->executor(), n->executor());
    }

    void wait(resume_token token) override
    {
      task_type* n = coroutine_access::task_pointer(next_);
      if (local_ && n->accepts_tail_sink())
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

    /// A collapse (see task::lock_tail_sink()): this source waits on the
    /// coroutine of @p next from now on, and @p next gets the handle of
    /// the coroutine it waited on so far.
    void retarget(coroutine<T, Executor>& next) noexcept
    {
      std::swap(next_, next);
    }

    const task_base* awaited_task() const noexcept override
    {
      return local_ ? coroutine_access::task_pointer(next_) : nullptr;
    }

    void pause() override { control([](const coroutine<T, Executor>& c) { c.pause(); }); }
    void unpause() override { control([](const coroutine<T, Executor>& c) { c.unpause(); }); }
    void cancel() override { control([](const coroutine<T, Executor>& c) { c.cancel(); }); }

  private:
    template <class Function>
    void control(Function f)
    {
      if (local_)
        f(next_);
      else
        post_reported(coroutine_access::task_pointer(next_)->executor(), [c = next_, f] { f(c); });
    }

    coroutine<T, Executor> next_;
    shared_state_wait<task_type, T, Executor> wait_;
    bool local_ = true;
  };

  std::unique_ptr<tail_source<T>> make_source()
  {
    return std::make_unique<source>(task_, std::move(next_));
  }

  task_type* task_;
  coroutine<T, Executor> next_;
};

/// co_return co_await tail_call(d) with a deferred<T, E>: the running frame
/// goes, and the deferred's result becomes the coroutine's; pause and
/// cancel are forwarded to the deferred.
template <class T, class Executor, class E>
class deferred_tail_awaiter
{
public:
  using task_type = task<T, Executor>;

  deferred_tail_awaiter(task_type* t, std::shared_ptr<deferred_state<T, E>> s) noexcept
    : task_(t), state_(std::move(s))
  {
  }

  bool await_ready() const
  {
    if (same_executor(task_->executor(), state_->executor()))
      check_view_cycle(*state_, task_, "coflow: a coroutine tail-calls itself",
          "coflow: a tail call to a coroutine that awaits the caller");
    return task_->cancel_requested();
  }

  void await_suspend(std::coroutine_handle<>)
  {
    task_->end_in_tail(std::make_unique<source>(task_, std::move(state_)));
  }

  T await_resume()
  {
    std::rethrow_exception(shared_cancelled_error());
  }

private:
  class source final : public tail_source<T>
  {
  public:
    source(task_type* t, std::shared_ptr<deferred_state<T, E>> s)
      : local_(same_executor(t->executor(), s->executor())), wait_(t, std::move(s))
    {
    }

    void wait(resume_token token) override
    {
      run_on(local_, wait_.state().executor(),
          [this, token = std::move(token)]() mutable { wait_.wait(std::move(token)); });
    }

    outcome<T> take() override { return wait_.take_outcome(); }

    const task_base* awaited_task() const noexcept override
    {
      return local_ ? producer_of(wait_.state()) : nullptr; // a coroutine's view
    }

    void pause() override { wait_.control(local_, &deferred_state<T, E>::pause); }
    void unpause() override { wait_.control(local_, &deferred_state<T, E>::unpause); }
    void cancel() override { wait_.control(local_, &deferred_state<T, E>::cancel); }

  private:

    bool local_;
    shared_state_wait<task_type, T, E> wait_;
  };

  task_type* task_;
  std::shared_ptr<deferred_state<T, E>> state_;
};

/// Launches an operation made with use_coroutine.
template <class Operation>
struct launch_coroutine_operation
{
  Operation operation;

  template <class Handler>
  void operator()(Handler&& handler) &&
  {
    std::move(operation).launch(std::forward<Handler>(handler));
  }
};

/// Launches an operation made with asio::deferred.
template <class Operation>
struct launch_deferred_operation
{
  Operation operation;

  template <class Handler>
  void operator()(Handler&& handler) &&
  {
    std::move(operation)(std::forward<Handler>(handler));
  }
};

/// Launches an asio::awaitable with co_spawn on the coroutine's executor;
/// co_spawn binds the handler's cancellation slot to the awaitable.
template <class U, class E>
struct launch_awaitable
{
  boost::asio::awaitable<U, E> awaitable;

  template <class Handler>
  void operator()(Handler&& handler) &&
  {
    E ex(handler.get_executor());
    boost::asio::co_spawn(ex, std::move(awaitable), std::forward<Handler>(handler));
  }
};

template <class T>
struct awaitable_signature
{
  using type = void(std::exception_ptr, T);
};

template <>
struct awaitable_signature<void>
{
  using type = void(std::exception_ptr);
};

template <class Executor>
struct ready_value
{
  Executor value;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  Executor await_resume() { return std::move(value); }
};

template <class T, class Derived>
class promise_return
{
public:
  template <class V = T>
    requires std::is_convertible_v<V&&, T>
  void return_value(V&& v)
  {
    static_cast<Derived*>(this)->owner()->set_value(T(std::forward<V>(v)));
  }
};

template <class Derived>
class promise_return<void, Derived>
{
public:
  void return_void() { static_cast<Derived*>(this)->owner()->set_value(void_value{}); }
};

template <class T, class Executor>
class coroutine_promise
  : public promise_return<T, coroutine_promise<T, Executor>>
{
public:
  using task_type = task<T, Executor>;

  // The frame shares one block with its task (see frame_block).
  static void* operator new(std::size_t size)
  {
    return frame_block::allocate_frame<task_type>(size);
  }

  static void operator delete(void* frame, std::size_t) noexcept
  {
    frame_block::deallocate_frame<task_type>(frame);
  }

  coroutine_promise() noexcept
    : task_(frame_block::claim<task_type>(
          std::coroutine_handle<coroutine_promise>::from_promise(*this)))
  {
  }

  coroutine_promise(const coroutine_promise&) = delete;
  coroutine_promise& operator=(const coroutine_promise&) = delete;

  coroutine<T, Executor> get_return_object() noexcept
  {
    return coroutine_access::adopt(task_);
  }

  std::suspend_always initial_suspend() const noexcept { return {}; }

  auto final_suspend() const noexcept
  {
    // The body never suspends at its end: the frame destroys itself as it
    // flows off, right after on_body_done() (which hands over the result
    // and resumes nothing in place: a parent waits nested, or the pump
    // runs it next).
    struct final_awaiter
    {
      task_type* task;
      [[gnu::always_inline]] bool await_ready() const noexcept
      {
        task->on_body_done();
        return true;
      }
      void await_suspend(std::coroutine_handle<>) const noexcept {}
      void await_resume() const noexcept {}
    };
    return final_awaiter{task_};
  }

  void unhandled_exception() noexcept { task_->set_error(std::current_exception()); }

  task_type* owner() const noexcept { return task_; }

  /// A tail call made this frame the body of @p t.
  void rebind(task_type* t) noexcept { task_ = t; }

  // --- what a body can await -------------------------------------------------

  ready_value<Executor> await_transform(this_coro::executor_t) const
  {
    return {task_->executor()};
  }

  template <class U, class E>
  child_awaiter<task_type, U, E> await_transform(coroutine<U, E>&& child) const
  {
    if (!child)
      throw std::logic_error("coflow: co_await of an empty coroutine handle");
    return {task_, std::move(child)};
  }

  template <class U, class E>
  child_awaiter<task_type, U, E> await_transform(const coroutine<U, E>& child) const
  {
    return await_transform(coroutine<U, E>(child));
  }

  template <class U, class E>
  auto await_transform(tail_call_t<coroutine<U, E>> call) const
  {
    static_assert(std::is_same_v<U, T>,
        "coflow::tail_call: the next state must be a coroutine of the same result "
        "type T as the coroutine that makes the tail call");
    static_assert(std::is_same_v<E, Executor>,
        "coflow::tail_call: the next state must be a coroutine of the same executor "
        "type as the coroutine that makes the tail call");
    if constexpr (std::is_same_v<U, T> && std::is_same_v<E, Executor>)
    {
      if (!call.next())
        throw std::logic_error("coflow: tail_call of an empty coroutine handle");
      return coroutine_tail_awaiter<T, Executor>(task_, std::move(call.next()));
    }
    else
      return mismatched_tail_call<T>{}; // only the static_assert speaks
  }

  template <class U, class E>
  auto await_transform(tail_call_t<deferred<U, E>> call) const
  {
    static_assert(std::is_same_v<U, T>,
        "coflow::tail_call: the deferred must produce the same result type T as the "
        "coroutine that makes the tail call");
    if constexpr (std::is_same_v<U, T>)
    {
      const auto& state = deferred_access::state(call.next());
      if (!state)
        throw std::logic_error("coflow: tail_call of an empty deferred handle");
      return deferred_tail_awaiter<T, Executor, E>(task_, state);
    }
    else
      return mismatched_tail_call<T>{}; // only the static_assert speaks
  }

  template <class U, class E>
  deferred_awaiter<task_type, U, E> await_transform(const deferred<U, E>& d) const
  {
    const auto& state = deferred_access::state(d);
    if (!state)
      throw std::logic_error("coflow: co_await of an empty deferred handle");
    return {task_, state};
  }

  template <class Signature, class Initiation, class... Args>
  auto await_transform(coroutine_operation<Signature, Initiation, Args...> op) const
  {
    using launch = launch_coroutine_operation<
        coroutine_operation<Signature, Initiation, Args...>>;
    return operation_awaiter<task_type, Signature, launch>(task_, launch{std::move(op)});
  }

  template <class Signature, class Initiation, class... Args>
  auto await_transform(
      boost::asio::deferred_async_operation<Signature, Initiation, Args...> op) const
  {
    using launch = launch_deferred_operation<
        boost::asio::deferred_async_operation<Signature, Initiation, Args...>>;
    return operation_awaiter<task_type, Signature, launch>(task_, launch{std::move(op)});
  }

  template <class U, class E>
  auto await_transform(boost::asio::awaitable<U, E> a) const
  {
    using launch = launch_awaitable<U, E>;
    return operation_awaiter<task_type, typename awaitable_signature<U>::type, launch>(
        task_, launch{std::move(a)});
  }

  // --- anything else: one static_assert ---------------------------------------

  /// What no overload above accepts converts to this, and the conversion
  /// holds the static_assert. A user-defined conversion ranks below the exact
  /// matches and standard conversions (derived-to-base included) of every
  /// overload above, so it never competes with them; only an overload that
  /// itself needs a user-defined conversion would tie with it.
  struct unsupported_await
  {
    template <class>
    static constexpr bool awaitable = false;

    template <class Awaited>
    unsupported_await(Awaited&&) noexcept
    {
      static_assert(awaitable<Awaited>,
          "coflow: a coroutine body cannot co_await this. It can await: "
          "coflow::coroutine<T>, coflow::deferred<T>, an Asio operation whose "
          "completion token is coflow::use_coroutine (or asio::deferred, or an "
          "Asio adapter such as asio::redirect_error around coflow::use_coroutine), "
          "asio::awaitable<T>, coflow::tail_call(next) (in co_return co_await), and "
          "coflow::this_coro::executor. Write coflow::this_coro::executor, not "
          "asio::this_coro::executor; give an Asio operation coflow::use_coroutine "
          "as its token, not asio::use_future, a callback or asio::detached.");
    }
  };

  /// The awaiter of what cannot be awaited: its result converts to anything,
  /// so that the static_assert is the only error.
  struct unsupported_awaiter
  {
    struct any_result
    {
      template <class R>
      operator R() const
      {
        std::terminate(); // never runs: the program does not compile
      }
    };

    bool await_ready() const noexcept { return true; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    any_result await_resume() const noexcept { return {}; }
  };

  unsupported_awaiter await_transform(unsupported_await) const { return {}; }

private:
  task_type* task_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_COROUTINE_PROMISE_HPP
