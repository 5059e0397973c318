//
// coflow/gather.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// gather: awaits several branches at once, each to its end, value or error.
//
// Example (asio is boost::asio; std::chrono_literals are in scope):
//
// @code
// coflow::coroutine<int> fails()
// {
//   co_await coflow::sleep(1ms);
//   throw std::runtime_error("no");
// }
//
// coflow::coroutine<std::size_t> count_successes()
// {
//   std::vector<coflow::coroutine<int>> tries;
//   tries.push_back(fails());
//   tries.push_back(coflow::spawn(co_await coflow::this_coro::executor, fails()));
//   std::size_t ok = 0;
//   for (auto& r : co_await coflow::gather(std::move(tries)))
//     ok += r.has_value();       // each a boost::system::result<int, std::exception_ptr>
//   co_return ok;
// }
//
// asio::io_context io;
// auto f = coflow::spawn(io, count_successes(), asio::use_future);
// io.run();              // f.get() == 0, and no error was reported as unhandled
// @endcode
//

/// @file
/// gather(): awaits several branches at once, each to its end, value or
/// error.
///
/// The source of this header opens with an example.

#ifndef COFLOW_GATHER_HPP
#define COFLOW_GATHER_HPP

#include <coflow/coroutine.hpp>
#include <coflow/detail/fan_in.hpp>
#include <coflow/join.hpp>

#include <boost/system/result.hpp>

#include <exception>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace coflow {
namespace detail {

template <class R>
using gathered = boost::system::result<R, std::exception_ptr>;

/// An outcome as a result: delivered, so never reported.
template <class V, class R = result_of_value<V>>
gathered<R> as_gathered(std::variant<V, std::exception_ptr>&& o)
{
  if (o.index() == 1)
    return gathered<R>(boost::system::in_place_error, std::get<1>(std::move(o)));
  if constexpr (std::is_void_v<R>)
    return gathered<R>();
  else
    return gathered<R>(boost::system::in_place_value, std::get<0>(std::move(o)));
}

} // namespace detail

/// A coroutine that runs every branch @p x at once, each to its end, and
/// delivers every outcome (DESIGN.md §7).
/**
 * Lazy, and started as join() is: its branches start when it starts, on its
 * executor, and it completes once every branch has finished. A failure
 * cancels nothing: each outcome, value or error, is delivered in its
 * `result`, and counts as received (it is never reported as unhandled).
 * Pause, unpause and cancel of the gather reach every branch; results that
 * arrive while paused are held. A cancelled gather throws `cancelled_error`
 * once all have finished (their outcomes are dropped; errors other than
 * cancels go to the unhandled-error handler). A branch cancelled through
 * its own handle delivers `cancelled_error` in its `result`.
 * @param x The branches, as for join().
 * @returns a lazy coroutine of `std::tuple` of
 * `boost::system::result<R, std::exception_ptr>`, one per branch
 * (`result<void, std::exception_ptr>` for a branch of void).
 * @throws std::logic_error, at its await, as join().
 */
template <class... X>
  requires(sizeof...(X) > 0 && !detail::one_range<X...>)
coroutine<std::tuple<detail::gathered<detail::declared_result_t<X>>...>> gather(X... x)
{
  auto done = co_await detail::fan_in(
      detail::fan_in_policy::gather, detail::as_branch(std::move(x))...);
  co_return std::apply(
      [](auto&... o) {
        return std::tuple<detail::gathered<detail::branch_result_t<X>>...>(
            detail::as_gathered(std::move(o))...);
      },
      done.outcomes);
}

/// gather() of every element of @p branches: a `std::vector` of results in
/// the range's order. An empty range completes at once.
/// @param branches The range of branches, taken by value.
/// @returns a lazy coroutine of `std::vector` of
/// `boost::system::result<R, std::exception_ptr>`, in the range's order.
/// @throws std::logic_error, at its await, as join().
template <std::ranges::range Range>
coroutine<std::vector<detail::gathered<detail::range_branch_result<Range>>>> gather(Range branches)
{
  using R = detail::range_branch_result<Range>;
  auto done = co_await detail::fan_in_range(detail::fan_in_policy::gather, branches);
  std::vector<detail::gathered<R>> results;
  results.reserve(done.outcomes.size());
  for (auto& o : done.outcomes)
    results.push_back(detail::as_gathered(std::move(o)));
  co_return results;
}

} // namespace coflow

#endif // COFLOW_GATHER_HPP
