//
// coflow/detail/executor_hop.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Touching an object from its own executor: run here when the caller is on
// it, otherwise post there (and report what the posted work throws).
//

#ifndef COFLOW_DETAIL_EXECUTOR_HOP_HPP
#define COFLOW_DETAIL_EXECUTOR_HOP_HPP

#include <coflow/unhandled_error.hpp>

#include <boost/asio/post.hpp>

#include <exception>
#include <type_traits>
#include <utility>

namespace coflow {
namespace detail {

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

/// run_on() for a control operation @p f on @p target (which has an
/// executor()), kept alive by @p keep (a handle): @p f(target) runs now when
/// local; otherwise it is posted to the target's executor with a copy of
/// @p keep, so the target outlives the hop.
template <class Target, class Keep, class Function>
void apply_on(bool local, Target& target, const Keep& keep, Function f)
{
  if (local)
    f(target);
  else
    post_reported(target.executor(), [keep, t = &target, f] { f(*t); });
}

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_EXECUTOR_HOP_HPP
