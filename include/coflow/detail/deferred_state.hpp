//
// coflow/detail/deferred_state.hpp
//
// The shared state behind deferred<T, Executor>: the current result, the
// callback chain (callbacks, errbacks and consumers in the order they were
// added), the pause count and the canceller.
//

#ifndef COFLOW_DETAIL_DEFERRED_STATE_HPP
#define COFLOW_DETAIL_DEFERRED_STATE_HPP

#include <coflow/detail/waiter_registry.hpp>
#include <coflow/error.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include <exception>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace coflow {
namespace detail {

/// Stands in for the value of a deferred<void>.
struct void_value
{
};

template <class T>
using value_of = std::conditional_t<std::is_void_v<T>, void_value, T>;

/// A result handed out of the chain: a value or an error, never empty.
template <class T>
using outcome = std::variant<value_of<T>, std::exception_ptr>;

/// One element of the callback chain. Links are owned by the chain and run
/// at most once; destroy() releases a link whether it ran or not.
template <class State>
class chain_link
{
public:
  chain_link* next = nullptr;

  /// True for links that deliver to a waiting consumer (counted for the
  /// waiter registry).
  const bool is_waiter;

  virtual void run(State& state) = 0;
  virtual void destroy() noexcept = 0;

protected:
  explicit chain_link(bool waiter = false) noexcept : is_waiter(waiter) {}
  ~chain_link() = default;
};

/// What cancel() calls first on an unfired state.
template <class State>
class canceller_base
{
public:
  virtual ~canceller_base() = default;
  virtual void cancel(State& state) = 0;

  /// True when the canceller's target will fire the state itself, later
  /// (a coroutine unwinding): cancel() then does not fail it at once.
  virtual bool settles_later() const noexcept { return false; }
};

/// Sits in an inner deferred's chain and resumes the outer chain with the
/// inner result.
template <class Outer, class Inner>
class resume_outer_link final : public chain_link<Inner>
{
public:
  explicit resume_outer_link(std::shared_ptr<Outer> outer) noexcept
    : outer_(std::move(outer))
  {
  }

  void run(Inner& inner) override
  {
    outer_->resume_from_inner(inner.take_outcome());
  }

  void destroy() noexcept override { delete this; }

private:
  std::shared_ptr<Outer> outer_;
};

template <class T, class Executor>
class deferred_state final
  : public registered_state,
    public std::enable_shared_from_this<deferred_state<T, Executor>>
{
public:
  using result_type = T;
  using value_type = value_of<T>;
  using link_type = chain_link<deferred_state>;
  using canceller_type = canceller_base<deferred_state>;

  explicit deferred_state(Executor ex) : executor_(std::move(ex)) {}

  ~deferred_state()
  {
    unregister_waiters();
    destroy_links(std::exchange(first_, nullptr));
    if (error_unreported_ && result_.index() == 2)
      report_unhandled_error(std::get<2>(result_));
  }

  const Executor& executor() const noexcept { return executor_; }

  // --- producer side -------------------------------------------------------

  /// callback() / errback(): one firing; after a cancel the next is ignored.
  void fire(outcome<T> result)
  {
    if (std::exchange(ignore_next_fire_, false))
      return;
    if (called_)
      throw already_called_error();
    settle(std::move(result));
  }

  /// Internal producers (an Asio operation, a then() source): fires unless
  /// already called, and consumes the ignore-after-cancel allowance.
  void settle(outcome<T> result)
  {
    if (called_)
    {
      ignore_next_fire_ = false;
      return;
    }
    called_ = true;
    if (result.index() == 0)
      result_.template emplace<1>(std::move(std::get<0>(result)));
    else
      set_error(std::get<1>(std::move(result)));
    run_chain();
  }

  /// Like settle(), with the result of another deferred: this chain waits
  /// for @p inner, and a cancel is forwarded to it.
  template <class InnerState>
  void settle_with(const std::shared_ptr<InnerState>& inner)
  {
    if (called_)
    {
      ignore_next_fire_ = false;
      return;
    }
    check_inner(inner);
    called_ = true;
    wait_on(inner);
  }

  bool called() const noexcept { return called_; }

  void set_canceller(std::unique_ptr<canceller_type> c) noexcept
  {
    canceller_ = std::move(c);
  }

  canceller_type* canceller() const noexcept { return canceller_.get(); }

  // --- flow control --------------------------------------------------------

  void pause() noexcept { ++pause_count_; }

  void unpause()
  {
    if (pause_count_ == 0)
      throw std::logic_error("coflow: unpause() without a matching pause()");
    if (--pause_count_ == 0)
      run_chain();
  }

  unsigned pause_count() const noexcept { return pause_count_; }

  void cancel() override
  {
    if (called_)
    {
      // A fired chain waiting on an inner deferred forwards the cancel to it.
      if (waiting_inner_)
        if (auto inner = upstream_.lock())
          inner->cancel();
      return;
    }
    if (cancelling_)
      return;
    cancelling_ = true;
    if (canceller_)
    {
      try
      {
        canceller_->cancel(*this);
      }
      catch (...)
      {
        report_unhandled_error(std::current_exception());
      }
    }
    if (!called_)
      if (auto up = upstream_.lock())
        up->cancel();
    cancelling_ = false;
    if (!called_ && !(canceller_ && canceller_->settles_later()))
    {
      called_ = true;
      ignore_next_fire_ = true;
      // The failure caused by a cancel is delivered despite a pause.
      cancel_overrides_pause_ = true;
      result_.template emplace<2>(shared_cancelled_error());
      run_chain();
    }
  }

  /// Cancels of this unfired state are forwarded to @p up (then() targets).
  void set_upstream(std::weak_ptr<registered_state> up) noexcept
  {
    upstream_ = std::move(up);
  }

  // --- the chain -----------------------------------------------------------

  /// Appends a link and runs the chain if it can run. The state takes
  /// ownership of @p link.
  void append(link_type* link)
  {
    if (last_)
      last_->next = link;
    else
      first_ = link;
    last_ = link;
    if (link->is_waiter)
      ++waiters_;
    run_chain();
    if (waiters_ != 0 && !waiters_registered())
      register_waiters(boost::asio::query(executor_, boost::asio::execution::context));
  }

  /// A consumer appended now would receive the result at once.
  bool can_deliver_now() const noexcept
  {
    return called_ && !waiting_inner_ && !running_ && !first_
        && (pause_count_ == 0 || cancel_overrides_pause_);
  }

  bool has_value() const noexcept { return result_.index() == 1; }
  value_type& value() noexcept { return std::get<1>(result_); }

  /// The current error, now received by whoever asked.
  std::exception_ptr receive_error() noexcept
  {
    error_unreported_ = false;
    return std::get<2>(result_);
  }

  void set_value(value_type v) { result_.template emplace<1>(std::move(v)); }

  void set_error(std::exception_ptr e) noexcept
  {
    result_.template emplace<2>(std::move(e));
    error_unreported_ = true;
  }

  /// A consumer's copy of the current result. A move-only value goes to the
  /// first consumer; later ones receive a std::logic_error.
  outcome<T> take_outcome()
  {
    if (result_.index() == 2)
      return outcome<T>(std::in_place_index<1>, receive_error());
    if constexpr (std::is_copy_constructible_v<value_type>)
    {
      return outcome<T>(std::in_place_index<0>, std::get<1>(result_));
    }
    else
    {
      outcome<T> taken(std::in_place_index<0>, std::move(std::get<1>(result_)));
      result_.template emplace<2>(std::make_exception_ptr(std::logic_error(
              "coflow: the move-only result was taken by an earlier consumer")));
      return taken;
    }
  }

  /// A callback returned @p inner: the chain waits for it (Twisted's
  /// chaining). The inner state gets a link that resumes this chain.
  template <class InnerState>
  void wait_on(const std::shared_ptr<InnerState>& inner)
  {
    check_inner(inner);
    auto* link = new resume_outer_link<deferred_state, InnerState>(
        this->shared_from_this());
    waiting_inner_ = true;
    error_unreported_ = false;
    result_.template emplace<0>();
    upstream_ = inner;
    inner->append(link);
  }

  /// The inner deferred this chain waited on has produced @p result.
  void resume_from_inner(outcome<T> result)
  {
    if (result.index() == 0)
      result_.template emplace<1>(std::move(std::get<0>(result)));
    else
      set_error(std::get<1>(std::move(result)));
    waiting_inner_ = false;
    upstream_.reset();
    run_chain();
  }

private:
  template <class InnerState>
  void check_inner(const std::shared_ptr<InnerState>& inner) const
  {
    if (!inner)
      throw std::logic_error("coflow: a callback returned an empty deferred");
    if (static_cast<const void*>(inner.get()) == static_cast<const void*>(this))
      throw std::logic_error(
          "coflow: a callback returned the deferred it was added to");
  }

  void run_chain()
  {
    if (running_)
      return; // The outer loop goes on with whatever was appended.
    running_ = true;
    struct reset_running
    {
      bool& flag;
      ~reset_running() { flag = false; }
    } reset{running_};

    while (first_ && called_ && !waiting_inner_
        && (pause_count_ == 0 || cancel_overrides_pause_))
    {
      link_type* link = first_;
      first_ = link->next;
      if (!first_)
        last_ = nullptr;
      struct destroy_link
      {
        deferred_state& self;
        link_type* link;
        ~destroy_link()
        {
          if (link->is_waiter)
            --self.waiters_;
          link->destroy();
        }
      } guard{*this, link};
      link->run(*this);
    }

    if (waiters_ == 0)
      unregister_waiters();
  }

  void abandon_waiters() noexcept override
  {
    // Keep this state alive while its links (which may own the last
    // handle) are destroyed.
    auto self = this->weak_from_this().lock();
    if (!self)
      return;
    link_type* links = std::exchange(first_, nullptr);
    last_ = nullptr;
    waiters_ = 0;
    destroy_links(links);
  }

  static void destroy_links(link_type* link) noexcept
  {
    while (link)
    {
      link_type* next = link->next;
      link->destroy();
      link = next;
    }
  }

  Executor executor_;
  std::variant<std::monostate, value_type, std::exception_ptr> result_;
  link_type* first_ = nullptr;
  link_type* last_ = nullptr;
  std::unique_ptr<canceller_type> canceller_;
  // The inner deferred a fired chain waits on, or the source of an unfired
  // then() target: where cancel() is forwarded.
  std::weak_ptr<registered_state> upstream_;
  unsigned pause_count_ = 0;
  unsigned waiters_ = 0;
  bool called_ = false;
  bool ignore_next_fire_ = false;
  bool cancel_overrides_pause_ = false;
  bool cancelling_ = false;
  bool running_ = false;
  bool waiting_inner_ = false;
  bool error_unreported_ = false;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_DEFERRED_STATE_HPP
