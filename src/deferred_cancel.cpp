//
// src/deferred_cancel.cpp: the cancel of a deferred that a consumer's
// cancellation slot asks for, run on the deferred's executor.
//
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)

#include <coflow/detail/deferred_state.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/dispatch.hpp>

#include <exception>
#include <memory>
#include <utility>

namespace coflow {
namespace detail {

void cancel_reported(chain_node& state) noexcept
{
  try
  {
    state.cancel();
  }
  catch (...)
  {
    report_unhandled_error(std::current_exception());
  }
}

void dispatch_cancel_on(const boost::asio::any_io_executor& ex, std::shared_ptr<chain_node> state)
{
  boost::asio::dispatch(ex, [state = std::move(state)] { cancel_reported(*state); });
}

} // namespace detail
} // namespace coflow
