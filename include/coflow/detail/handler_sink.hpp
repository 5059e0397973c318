//
// coflow/detail/handler_sink.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// An Asio completion handler as the direct consumer of a coroutine that is
// being started for it (spawn with a token, `x(token)` of an unstarted
// coroutine): the coroutine delivers into this sink, with no shared state,
// and the handler's cancellation slot cancels the coroutine through its own
// control calls, which are safe from any thread. So a handler on a
// multi-threaded executor without a strand (an awaitable of a thread_pool
// awaiting a coroutine, cancelled by `||`) never races with the delivery.
//

#ifndef COFLOW_DETAIL_HANDLER_SINK_HPP
#define COFLOW_DETAIL_HANDLER_SINK_HPP

#include <coflow/detail/coroutine_access.hpp>
#include <coflow/detail/deferred_waiter.hpp>
#include <coflow/detail/outcome.hpp>
#include <coflow/detail/result_sink.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>

#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace coflow {

template <class T, class Executor>
class coroutine;

namespace detail {

/// Installed in the handler's cancellation slot: cancels the coroutine.
template <class T, class Executor>
class slot_cancel
{
public:
  explicit slot_cancel(coroutine<T, Executor> c) noexcept : coroutine_(std::move(c)) {}

  void operator()(boost::asio::cancellation_type_t type)
  {
    using boost::asio::cancellation_type;
    if ((type & (cancellation_type::terminal | cancellation_type::partial
                    | cancellation_type::total))
        != cancellation_type::none)
      coroutine_.cancel();
  }

private:
  coroutine<T, Executor> coroutine_;
};

template <class T, class Executor, class Handler>
class handler_sink final : public result_sink<T>
{
public:
  /// Makes @p c deliver to @p handler: after prepare_posted_start(),
  /// before post_start().
  static void attach(coroutine<T, Executor>& c, Handler&& handler)
  {
    auto& state = coroutine_access::state_of(c);
    std::unique_ptr<handler_sink> sink(new handler_sink(std::move(handler), state.executor()));
    if (sink->slot_.is_connected())
      sink->slot_.template emplace<slot_cancel<T, Executor>>(c);
    state.set_sink(sink.release()); // last: nothing above leaves it set
  }

  void receive(outcome<T> r) override { result_.emplace(std::move(r)); }

  void delivered() noexcept override
  {
    std::unique_ptr<handler_sink> self(this);
    try
    {
      if (!result_) // receive() could not store it
        result_.emplace(std::in_place_index<1>, std::make_exception_ptr(std::bad_alloc()));
      // Through the coroutine's executor, then the handler's (as a
      // deferred's consumers are): never inside the delivery.
      post_to_handler<T>(executor_, std::move(handler_), slot_, std::move(*result_));
    }
    catch (...)
    {
      report_unhandled_error(std::current_exception());
    }
  }

  /// The context shut down: the handler is destroyed, never invoked (as
  /// Asio's own operations' are).
  resume_token abandoned() noexcept override
  {
    delete this;
    return {};
  }

private:
  handler_sink(Handler&& handler, const Executor& ex)
    : handler_(std::move(handler)),
      slot_(boost::asio::get_associated_cancellation_slot(handler_)),
      executor_(ex)
  {
  }

  Handler handler_;
  boost::asio::cancellation_slot slot_;
  Executor executor_;
  std::optional<outcome<T>> result_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_HANDLER_SINK_HPP
