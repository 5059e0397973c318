//
// coflow/detail/operation_launch.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// How the operation awaiter initiates each kind of Asio operation: one made
// with use_coroutine, one made with asio::deferred, an asio::awaitable.
//

#ifndef COFLOW_DETAIL_OPERATION_LAUNCH_HPP
#define COFLOW_DETAIL_OPERATION_LAUNCH_HPP

#include <coflow/detail/awaited_control.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>

#include <exception>
#include <utility>

namespace coflow {
namespace detail {

/// Launches an operation made with use_coroutine or with asio::deferred
/// (Asio's deferred operation, not coflow::deferred): both are initiated by
/// calling them with the handler.
template <class Operation>
struct launch_operation
{
  static constexpr awaited_kind kind = awaited_kind::operation;
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
  static constexpr awaited_kind kind = awaited_kind::awaitable;
  boost::asio::awaitable<U, E> awaitable;

  template <class Handler>
  void operator()(Handler&& handler) &&
  {
    E ex(handler.get_executor());
    boost::asio::co_spawn(ex, std::move(awaitable), std::forward<Handler>(handler));
  }
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_OPERATION_LAUNCH_HPP
