//
// coflow/detail/fan_in.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The one node under every combinator of DESIGN.md §7 (join, gather, race,
// timeout, shield): a body awaits several branches at once. Each branch is a
// coroutine, started on the body's executor and delivering its result into a
// sink of the node (no shared state per branch); anything else a body can
// await becomes a one-line coroutine that awaits it. The node is what the
// body's cascade reaches: pause, unpause and cancel go to every branch. It
// resumes the body once every branch has delivered, so no branch outlives
// it. What differs between the combinators is only which finished branch
// cancels the others (the policy), which branches a pause or a cancel skips
// (a timeout's timer, a shield's branch), and how the outcomes become a
// result (in the combinator's own body).
//

#ifndef COFLOW_DETAIL_FAN_IN_HPP
#define COFLOW_DETAIL_FAN_IN_HPP

#include <coflow/coroutine.hpp>
#include <coflow/detail/cascade_awaiter.hpp>
#include <coflow/detail/coroutine_access.hpp>
#include <coflow/detail/outcome.hpp>
#include <coflow/detail/result_sink.hpp>
#include <coflow/error.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace coflow {
namespace detail {

// --- what a branch produces ----------------------------------------------------

/// The result of `co_await x` in a coroutine body (void included), or
/// unsupported_result if a body cannot await an @p X.
template <class X>
using awaited_result_t = std::remove_cvref_t<decltype(
    std::declval<coroutine_promise<void, boost::asio::any_io_executor>&>()
        .await_transform(std::declval<X>())
        .await_resume())>;

template <class X>
inline constexpr bool awaitable_in_body = !std::is_same_v<awaited_result_t<X>,
    typename coroutine_promise<void, boost::asio::any_io_executor>::unsupported_awaiter::any_result>;

template <class X>
struct branch_result
{
  static_assert(awaitable_in_body<X>,
      "coflow: a branch of a combinator must be something a coroutine body can "
      "co_await: coflow::coroutine<T>, coflow::deferred<T>, an Asio operation with "
      "coflow::use_coroutine (or asio::deferred), asio::awaitable<T>, or another "
      "combinator");
  using type = awaited_result_t<X>;
};

/// What a branch @p X (any awaitable of a body) delivers; a readable error
/// if a body cannot await it.
template <class X>
using branch_result_t = typename branch_result<std::remove_cvref_t<X>>::type;

/// branch_result_t without the error, for declarations: an overload that
/// its constraints rule out must not fail to compile (clang 14 substitutes
/// the return type before it checks the constraints).
template <class X>
using declared_result_t = awaited_result_t<std::remove_cvref_t<X>>;

/// void as a value in a tuple or a variant.
template <class R>
using value_or_monostate = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

template <class R, class X>
coroutine<R> await_in_branch(X x)
{
  co_return co_await std::move(x); // a void expression calls return_void()
}

/// @p x as a branch: an unstarted coroutine of the default executor is the
/// branch itself; anything else (a started coroutine, a deferred, an Asio
/// operation, an awaitable) is awaited by a one-line coroutine.
template <class X>
coroutine<branch_result_t<X>> as_branch(X&& x)
{
  using R = branch_result_t<X>;
  using D = std::remove_cvref_t<X>;
  if constexpr (std::is_same_v<D, coroutine<R>>)
  {
    if (!x)
      throw std::logic_error("coflow: an empty coroutine handle as a branch");
    if (!x.started())
      return std::forward<X>(x);
  }
  return await_in_branch<R>(D(std::forward<X>(x)));
}

/// Whether @p e is a cancel (never reported: whoever cancelled knows).
inline bool is_cancel(const std::exception_ptr& e) noexcept
{
  if (e == shared_cancelled_error())
    return true;
  try
  {
    std::rethrow_exception(e);
  }
  catch (const cancelled_error&)
  {
    return true;
  }
  catch (...)
  {
    return false;
  }
}

// --- the node --------------------------------------------------------------------

/// Which finished branch cancels the others.
enum class fan_in_policy : unsigned char
{
  join,   ///< the first that fails
  gather, ///< none
  race,   ///< the first that finishes
};

inline constexpr std::size_t no_branch = static_cast<std::size_t>(-1);

/// Branches that a pause or a cancel of the node skips (bit i: branch i).
struct branch_controls
{
  std::uint32_t unpaused = 0;   ///< a timeout's timer: the deadline runs on
  std::uint32_t uncancelled = 0; ///< a shield's branch

  bool pauses(std::size_t i) const noexcept { return i >= 32 || !(unpaused >> i & 1u); }
  bool cancels(std::size_t i) const noexcept { return i >= 32 || !(uncancelled >> i & 1u); }
};

/// The counting part of the node, the same for every storage of branches.
class fan_in_count
{
public:
  /// Branch @p i has delivered (a failure if @p failed), on its executor,
  /// inside a pump. The node is touched only before the count goes down:
  /// the last branch resumes the body, which may then destroy the node.
  void branch_done(std::size_t i, bool failed) noexcept
  {
    if (policy_ == fan_in_policy::race || (policy_ == fan_in_policy::join && failed))
    {
      std::size_t none = no_branch;
      if (first_.compare_exchange_strong(none, i, std::memory_order_acq_rel))
        cancel_all_but(i);
    }
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      std::move(waiting_).resume();
  }

  /// Branch abandoned at shutdown: the last one hands on the body's token.
  resume_token branch_abandoned() noexcept
  {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      return std::move(waiting_);
    return {};
  }

protected:
  fan_in_count(fan_in_policy policy, branch_controls controls) noexcept
    : policy_(policy), controls_(controls)
  {
  }
  ~fan_in_count() = default;

  virtual void cancel_all_but(std::size_t i) noexcept = 0;

  fan_in_policy policy_;
  branch_controls controls_;
  std::atomic<std::size_t> left_{0};
  /// The first branch that failed (join) or finished (race).
  std::atomic<std::size_t> first_{no_branch};
  resume_token waiting_;
};

/// Where branch @p R delivers.
template <class R>
class branch_sink final : public result_sink<R>
{
public:
  void bind(fan_in_count* node, std::size_t index) noexcept
  {
    node_ = node;
    index_ = index;
  }

  void receive(outcome<R> r) override { result_.emplace(std::move(r)); }
  void delivered() noexcept override
  {
    node_->branch_done(index_, !result_ || result_->index() == 1);
  }
  resume_token abandoned() noexcept override { return node_->branch_abandoned(); }

  outcome<R> take()
  {
    if (!result_)
      return outcome<R>(std::in_place_index<1>,
          std::make_exception_ptr(std::bad_alloc())); // receive() could not store it
    return std::move(*result_);
  }

  /// An error that nobody will receive.
  const std::exception_ptr* error() const noexcept
  {
    return result_ && result_->index() == 1 ? &std::get<1>(*result_) : nullptr;
  }

private:
  fan_in_count* node_ = nullptr;
  std::size_t index_ = 0;
  std::optional<outcome<R>> result_;
};

/// A fixed list of branches of different result types.
template <class... R>
struct branch_tuple
{
  using outcomes = std::tuple<outcome<R>...>;

  std::tuple<coroutine<R>...> children;
  std::tuple<branch_sink<R>...> sinks;

  explicit branch_tuple(coroutine<R>... c) : children(std::move(c)...) {}

  std::size_t size() const noexcept { return sizeof...(R); }

  template <class Function>
  void for_each(Function&& f)
  {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(I, std::get<I>(children), std::get<I>(sinks)), ...);
    }(std::index_sequence_for<R...>{});
  }

  template <class Function>
  void for_each(Function&& f) const
  {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(I, std::get<I>(children), std::get<I>(sinks)), ...);
    }(std::index_sequence_for<R...>{});
  }

  outcomes take()
  {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return outcomes(std::get<I>(sinks).take()...);
    }(std::index_sequence_for<R...>{});
  }
};

/// Any number of branches of one result type.
template <class R>
struct branch_vector
{
  using outcomes = std::vector<outcome<R>>;

  std::vector<coroutine<R>> children;
  std::vector<branch_sink<R>> sinks;

  explicit branch_vector(std::vector<coroutine<R>> c)
    : children(std::move(c)), sinks(children.size())
  {
  }

  std::size_t size() const noexcept { return children.size(); }

  template <class Function>
  void for_each(Function&& f)
  {
    for (std::size_t i = 0; i < children.size(); ++i)
      f(i, children[i], sinks[i]);
  }

  template <class Function>
  void for_each(Function&& f) const
  {
    for (std::size_t i = 0; i < children.size(); ++i)
      f(i, children[i], sinks[i]);
  }

  outcomes take()
  {
    outcomes out;
    out.reserve(sinks.size());
    for (auto& s : sinks)
      out.push_back(s.take());
    return out;
  }
};

/// What the node gives its body: every branch's outcome, and which branch
/// failed first (join) or won (race), or no_branch.
template <class Outcomes>
struct fan_in_done
{
  Outcomes outcomes;
  std::size_t first;
};

/// What a node's body receives by default: the fan_in_done itself.
struct keep_outcomes
{
  template <class Done>
  Done operator()(Done&& done) const
  {
    return std::move(done);
  }
};

/// The awaiter of a fan_in_node (see the file comment). @p Finish turns the
/// fan_in_done into what the await gives the body.
template <class CoroState, class Branches, class Finish>
class fan_in_awaiter final
  : public cascade_awaiter<fan_in_awaiter<CoroState, Branches, Finish>, CoroState>,
    public fan_in_count
{
public:
  fan_in_awaiter(CoroState* t, fan_in_policy policy, branch_controls controls,
      bool shielded, Branches&& branches)
    : fan_in_awaiter::cascade_awaiter(t), fan_in_count(policy, controls),
      branches_(std::move(branches)), shielded_(shielded)
  {
  }

  fan_in_awaiter(const fan_in_awaiter&) = delete;
  fan_in_awaiter& operator=(const fan_in_awaiter&) = delete;

  /// A shield waits even with a cancel pending (DESIGN.md §7).
  bool await_ready()
  {
    if (!shielded_ && this->coro_->cancel_requested())
      return true;
    return ready();
  }

  decltype(auto) await_resume()
  {
    if (!shielded_)
      return fan_in_awaiter::cascade_awaiter::await_resume();
    leaving();
    this->coro_->resumed();
    this->coro_->throw_if_failed(); // a handler dropped, never the cancel
    return take();
  }

  bool ready() const noexcept { return branches_.size() == 0; }

  void hand_over(resume_token&& token)
  {
    // Everything that may throw comes before the first start: a throw
    // leaves every branch unstarted, and none refers to this node.
    branches_.for_each([&](std::size_t, auto& child, auto&) {
      if (coroutine_access::state_of(child).started())
        throw std::logic_error("coflow: a branch was started by someone else");
    });
    std::size_t prepared = 0;
    try
    {
      branches_.for_each([&](std::size_t i, auto& child, auto& sink) {
        coroutine_access::state_of(child).prepare_branch(this->coro_->executor(), &sink);
        sink.bind(this, i);
        ++prepared;
      });
    }
    catch (...)
    {
      branches_.for_each([&](std::size_t i, auto& child, auto&) {
        if (i < prepared)
          coroutine_access::state_of(child).unprepare_branch();
      });
      throw;
    }
    waiting_ = std::move(token);
    left_.store(branches_.size(), std::memory_order_relaxed);
    // The body runs inside a pump, so every branch's start is queued on it:
    // the branches run one after the other once the body has suspended
    // (no post, no nesting). A branch that delivers at once (cancelled
    // before it started) may resume the body's token here: the suspension
    // protocol then finds the body resumed early, and the body goes on on
    // this thread after await_suspend, so the node is alive meanwhile.
    branches_.for_each([](std::size_t, auto& child, auto&) {
      coroutine_access::state_of(child).start_queued();
    });
  }

  decltype(auto) take()
  {
    return Finish{}(fan_in_done<typename Branches::outcomes>{
        branches_.take(), first_.load(std::memory_order_relaxed)});
  }

  /// Errors that no one receives go to the unhandled-error handler: every
  /// one of a cancelled node; the losers' of a join or a race.
  void leaving() noexcept
  {
    if (branches_.size() == 0)
      return;
    const bool cancelled = !shielded_ && this->coro_->cancel_requested();
    const std::size_t first = first_.load(std::memory_order_relaxed);
    branches_.for_each([&](std::size_t i, auto&, auto& sink) {
      const std::exception_ptr* e = sink.error();
      if (!e || (!cancelled && (policy_ == fan_in_policy::gather || i == first)))
        return;
      if (!is_cancel(*e))
        report_unhandled_error(*e);
    });
  }

  void for_each_awaited(awaited_visitor& visit) const noexcept override
  {
    branches_.for_each([&](std::size_t, const auto& child, const auto&) {
      visit(coroutine_access::state_pointer(child));
    });
  }

  awaited_description describe() const noexcept override
  {
    // A race against a branch that a pause does not reach is a deadline's.
    const char* name = shielded_                      ? "shield"
        : policy_ == fan_in_policy::join              ? "join"
        : policy_ == fan_in_policy::gather            ? "gather"
        : this->controls_.unpaused != 0               ? "timeout"
                                                      : "race";
    return {awaited_kind::fan_in, nullptr, false, name};
  }

  void pause() override
  {
    branches_.for_each([&](std::size_t i, auto& child, auto&) {
      if (controls_.pauses(i))
        child.pause();
    });
  }

  void unpause() override
  {
    branches_.for_each([&](std::size_t i, auto& child, auto&) {
      if (controls_.pauses(i))
        child.unpause();
    });
  }

  void cancel() override { cancel_all_but(no_branch); }

private:
  void cancel_all_but(std::size_t skip) noexcept override
  {
    branches_.for_each([&](std::size_t i, auto& child, auto&) {
      if (i == skip || !controls_.cancels(i))
        return;
      try
      {
        child.cancel();
      }
      catch (...)
      {
        report_unhandled_error(std::current_exception());
      }
    });
  }

  Branches branches_;
  bool shielded_;
};

/// What a combinator's body awaits: builds its awaiter for the body.
template <class Branches, class Finish = keep_outcomes>
struct fan_in_node
{
  fan_in_policy policy;
  Branches branches;
  branch_controls controls{};
  bool shielded = false;

  template <class CoroState>
  fan_in_awaiter<CoroState, Branches, Finish> awaiter_for(CoroState* t) &&
  {
    return {t, policy, controls, shielded, std::move(branches)};
  }
};

/// The node of a variadic combinator.
template <class... R>
fan_in_node<branch_tuple<R...>> fan_in(fan_in_policy policy, coroutine<R>... branches)
{
  return {policy, branch_tuple<R...>(std::move(branches)...)};
}

/// The node of a range combinator: each element of @p range as a branch.
template <class Range>
auto fan_in_range(fan_in_policy policy, Range&& range)
{
  using R = branch_result_t<decltype(*std::begin(range))>;
  std::vector<coroutine<R>> branches;
  for (auto&& x : range)
    branches.push_back(as_branch(std::move(x)));
  return fan_in_node<branch_vector<R>>{policy, branch_vector<R>(std::move(branches))};
}

/// The result type of an outcome's value (void_value: void).
template <class V>
using result_of_value = std::conditional_t<std::is_same_v<V, void_value>, void, V>;

/// The value of @p o, as a tuple or variant element (void: monostate), or
/// its error thrown.
template <class V>
value_or_monostate<result_of_value<V>> take_value(std::variant<V, std::exception_ptr>&& o)
{
  if (o.index() == 1)
    std::rethrow_exception(std::get<1>(o));
  if constexpr (std::is_same_v<V, void_value>)
    return {};
  else
    return std::get<0>(std::move(o));
}

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_FAN_IN_HPP
