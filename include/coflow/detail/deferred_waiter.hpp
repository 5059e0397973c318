//
// coflow/detail/deferred_waiter.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The chain link of a consumer that waits with an Asio completion handler:
// it forwards the handler's cancellation slot to the deferred, and delivers a
// copy of the result through the executor.
//

#ifndef COFLOW_DETAIL_DEFERRED_WAITER_HPP
#define COFLOW_DETAIL_DEFERRED_WAITER_HPP

#include <coflow/detail/deferred_state.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace coflow {
namespace detail {

/// Installed in a consumer's cancellation slot: cancels the deferred, from
/// the deferred's executor (see chain_node::dispatch_cancel()). Holds the
/// state weakly, so that a slot that outlives the wait is harmless.
class cancel_forwarder
{
public:
  explicit cancel_forwarder(std::weak_ptr<chain_node> state) noexcept
    : state_(std::move(state))
  {
  }

  void operator()(boost::asio::cancellation_type_t type)
  {
    using boost::asio::cancellation_type;
    if ((type & (cancellation_type::terminal | cancellation_type::partial
                    | cancellation_type::total))
        != cancellation_type::none)
      if (auto state = state_.lock())
        state->dispatch_cancel(std::move(state));
  }

private:
  std::weak_ptr<chain_node> state_;
};

/// What is posted to deliver a result: clears the consumer's slot (the wait
/// is over), then invokes the handler. Its allocator and cancellation slot
/// are the handler's (see the associators below).
template <class Handler, class... Args>
class waiter_completion
{
public:
  waiter_completion(Handler&& handler, boost::asio::cancellation_slot slot,
      Args... args)
    : handler_(std::move(handler)),
      slot_(slot),
      args_(std::move(args)...)
  {
  }

  void operator()()
  {
    if (slot_.is_connected())
      slot_.clear();
    std::apply(std::move(handler_), std::move(args_));
  }

  const Handler& handler() const noexcept { return handler_; }

private:
  Handler handler_;
  boost::asio::cancellation_slot slot_;
  std::tuple<Args...> args_;
};

/// asio::post(ex, f), straight to the io_context's own executor when @p ex
/// is an any_io_executor that holds one: a post through the type-erased
/// executor wraps @p f once more and allocates for it (a third of what a
/// deferred's consumer costs beyond the post itself).
template <class Executor, class Function>
void post_completion(const Executor& ex, Function&& f)
{
  if constexpr (std::is_same_v<Executor, boost::asio::any_io_executor>)
  {
    if (const auto* io = ex.template target<boost::asio::io_context::executor_type>())
    {
      boost::asio::post(*io, std::forward<Function>(f));
      return;
    }
  }
  boost::asio::post(ex, std::forward<Function>(f));
}

/// Posts @p completion (a waiter_completion) through @p ex, the deferred's
/// executor, to its handler's associated executor @p handler_ex: straight
/// there when the two are equal (the common case: one trip, not a post and
/// then a dispatch), else as Asio's work dispatcher does (the handler's
/// executor may be another context's, or one that runs what it is given at
/// once: the trip through @p ex keeps the order and the work of @p ex).
template <class Executor, class HandlerExecutor, class Completion>
void post_completion_to(const Executor& ex, const HandlerExecutor& handler_ex,
    Completion&& completion)
{
  if constexpr (std::is_same_v<Executor, HandlerExecutor>)
  {
    if (handler_ex == ex)
    {
      post_completion(ex, std::forward<Completion>(completion));
      return;
    }
  }
  boost::asio::post(ex,
      boost::asio::bind_executor(handler_ex, std::forward<Completion>(completion)));
}

/// Posts @p result to @p handler (see post_completion_to()), whose
/// cancellation slot is @p slot: as `void(std::exception_ptr)` or
/// `void(std::exception_ptr, T)` (a default T with an error), or as the
/// outcome itself for coflow's own waiters (they say takes_outcome: no
/// default T needed).
template <class T, class Executor, class Handler>
void post_to_handler(const Executor& ex, Handler&& handler,
    boost::asio::cancellation_slot slot, outcome<T> result)
{
  static_assert(!std::is_reference_v<Handler>, "the handler is moved in");
  const auto handler_ex = boost::asio::get_associated_executor(handler, ex);
  if constexpr (requires { typename Handler::takes_outcome; })
  {
    post_completion_to(ex, handler_ex,
        waiter_completion<Handler, outcome<T>>(std::move(handler), slot, std::move(result)));
  }
  else
  {
    std::exception_ptr error;
    if (result.index() == 1)
      error = std::get<1>(std::move(result));
    if constexpr (std::is_void_v<T>)
    {
      post_completion_to(ex, handler_ex,
          waiter_completion<Handler, std::exception_ptr>(
              std::move(handler), slot, std::move(error)));
    }
    else
    {
      T value = result.index() == 0 ? std::get<0>(std::move(result)) : T();
      post_completion_to(ex, handler_ex,
          waiter_completion<Handler, std::exception_ptr, T>(
              std::move(handler), slot, std::move(error), std::move(value)));
    }
  }
}

template <class State, class Handler>
class waiter_link final : public chain_link<State>
{
  using allocator_type = typename std::allocator_traits<
      boost::asio::associated_allocator_t<Handler>>::template
      rebind_alloc<waiter_link>;

public:
  static waiter_link* create(Handler&& handler,
      std::weak_ptr<chain_node> state)
  {
    allocator_type alloc(boost::asio::get_associated_allocator(handler));
    waiter_link* link = std::allocator_traits<allocator_type>::allocate(alloc, 1);
    try
    {
      return ::new (static_cast<void*>(link))
          waiter_link(std::move(handler), std::move(state), alloc);
    }
    catch (...)
    {
      std::allocator_traits<allocator_type>::deallocate(alloc, link, 1);
      throw;
    }
  }

  void run(State& state, std::shared_ptr<chain_node>&) override
  {
    // A copy that throws is this consumer's error: it never escapes here,
    // where it would leave the consumer uncalled.
    deliver(state, state.take_outcome());
  }

  void withdraw(State& state) override
  {
    deliver(state, outcome<typename State::result_type>(
        std::in_place_index<1>, shared_cancelled_error()));
  }

  /// What identifies the consumer, for handlers that say (coflow's own
  /// waiters: the awaiter that receives the result).
  const void* consumer() const noexcept override
  {
    if constexpr (requires(const Handler& h) { h.consumer(); })
      return handler_.consumer();
    else
      return nullptr;
  }

  void destroy() noexcept override
  {
    allocator_type alloc(alloc_);
    this->~waiter_link();
    std::allocator_traits<allocator_type>::deallocate(alloc, this, 1);
  }

private:
  /// Posts @p result to the consumer, through the deferred's executor.
  void deliver(State& state, outcome<typename State::result_type> result)
  {
    post_to_handler<typename State::result_type>(
        state.executor(), std::move(handler_), slot_, std::move(result));
  }

  waiter_link(Handler&& handler, std::weak_ptr<chain_node> state,
      const allocator_type& alloc)
    : chain_link<State>(true),
      handler_(std::move(handler)),
      slot_(boost::asio::get_associated_cancellation_slot(handler_)),
      alloc_(alloc)
  {
    if (slot_.is_connected())
      slot_.template emplace<cancel_forwarder>(std::move(state));
  }

  ~waiter_link() = default;

  Handler handler_;
  boost::asio::cancellation_slot slot_;
  allocator_type alloc_;
};

} // namespace detail
} // namespace coflow

namespace boost {
namespace asio {

// A waiter_completion has the handler's allocator and cancellation slot, but
// not its executor: post_completion_to() posts it there, or binds it to it.
template <typename Handler, typename... Args, typename DefaultCandidate>
struct associated_allocator<coflow::detail::waiter_completion<Handler, Args...>,
    DefaultCandidate>
  : associated_allocator<Handler, DefaultCandidate>
{
  static typename associated_allocator<Handler, DefaultCandidate>::type get(
      const coflow::detail::waiter_completion<Handler, Args...>& h) noexcept
  {
    return associated_allocator<Handler, DefaultCandidate>::get(h.handler());
  }

  static auto get(const coflow::detail::waiter_completion<Handler, Args...>& h,
      const DefaultCandidate& c) noexcept
      -> decltype(associated_allocator<Handler, DefaultCandidate>::get(h.handler(), c))
  {
    return associated_allocator<Handler, DefaultCandidate>::get(h.handler(), c);
  }
};

template <typename Handler, typename... Args, typename DefaultCandidate>
struct associated_cancellation_slot<
    coflow::detail::waiter_completion<Handler, Args...>, DefaultCandidate>
  : associated_cancellation_slot<Handler, DefaultCandidate>
{
  static typename associated_cancellation_slot<Handler, DefaultCandidate>::type get(
      const coflow::detail::waiter_completion<Handler, Args...>& h) noexcept
  {
    return associated_cancellation_slot<Handler, DefaultCandidate>::get(h.handler());
  }

  static auto get(const coflow::detail::waiter_completion<Handler, Args...>& h,
      const DefaultCandidate& c) noexcept
      -> decltype(associated_cancellation_slot<Handler, DefaultCandidate>::get(h.handler(), c))
  {
    return associated_cancellation_slot<Handler, DefaultCandidate>::get(h.handler(), c);
  }
};

} // namespace asio
} // namespace boost

#endif // COFLOW_DETAIL_DEFERRED_WAITER_HPP
