//
// coflow/join.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// join: awaits several branches at once, all of which must succeed.
//
// Example (asio is boost::asio; std::chrono_literals are in scope):
//
// @code
// coflow::coroutine<int> value_after(std::chrono::milliseconds d, int v)
// {
//   co_await coflow::sleep(d);
//   co_return v;
// }
//
// coflow::coroutine<int> both()
// {
//   auto [a, b] = co_await coflow::join(value_after(2ms, 1), value_after(1ms, 2));  // 2 ms, not 3
//   co_return a * 10 + b;
// }
//
// asio::io_context io;
// auto f = coflow::spawn(io, both(), asio::use_future);
// io.run();              // f.get() == 12
// @endcode
//

/// @file
/// join(): awaits several branches at once, all of which must succeed.
///
/// The source of this header opens with an example.

#ifndef COFLOW_JOIN_HPP
#define COFLOW_JOIN_HPP

#include <coflow/coroutine.hpp>
#include <coflow/detail/fan_in.hpp>

#include <cstddef>
#include <exception>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace coflow {
namespace detail {

template <class... X>
inline constexpr bool one_range = false;
template <class X>
inline constexpr bool one_range<X> = std::ranges::range<std::remove_cvref_t<X>>;

/// The result of join(range) of branches that deliver @p R.
template <class R>
using join_range_result = std::conditional_t<std::is_void_v<R>, void, std::vector<R>>;

template <class Range>
using range_branch_result = branch_result_t<std::ranges::range_value_t<std::remove_cvref_t<Range>>>;

/// The failure of a join, else the outcome's index (for the callers' checks).
template <class Outcomes>
void throw_first_failure(fan_in_done<Outcomes>& done)
{
  if (done.first == no_branch)
    return;
  if constexpr (requires { done.outcomes.size(); })
    std::rethrow_exception(std::get<1>(done.outcomes[done.first]));
  else
    std::apply(
        [&](auto&... o) {
          std::size_t i = 0;
          ((i++ == done.first ? std::rethrow_exception(std::get<1>(o)) : void()), ...);
        },
        done.outcomes);
}

} // namespace detail

/// A coroutine that runs every branch @p x at once and delivers their values
/// in order (DESIGN.md §7).
/**
 * Each branch is anything a coroutine body can await. The join is lazy: it
 * starts as any coroutine does (awaited as a child, on its awaiter's
 * executor, or spawned), and its branches start then, on its executor. It
 * completes once every branch has finished, never while one still runs.
 *
 * The first branch to fail cancels the others; once all have finished the
 * join throws that first error (a later error, other than
 * `cancelled_error`, goes to the unhandled-error handler). A branch
 * cancelled through its own handle fails with `cancelled_error`, an error
 * like any other. Pause, unpause and cancel of the join reach every branch:
 * a pause is forwarded once to each running branch, and results that
 * arrive meanwhile are held; a cancel cancels every branch, and the join
 * throws `cancelled_error` once all have finished.
 *
 * On an executor without a strand (a `thread_pool`), pass unstarted
 * coroutines: a started coroutine as a branch is awaited through its shared
 * state, which is used from one strand, as any shared deferred.
 *
 * @param x The branches: coroutines (an unstarted one becomes the branch
 * itself; a started one is awaited), deferreds, Asio operations with
 * use_coroutine, `asio::awaitable`s, other combinators.
 * @returns a lazy coroutine of `std::tuple` of the branches' values (void:
 * `std::monostate`).
 * @throws std::logic_error, at its await, for an empty coroutine handle as
 * a branch, or a branch that someone else started before the join did.
 */
template <class... X>
  requires(sizeof...(X) > 0 && !detail::one_range<X...>)
coroutine<std::tuple<detail::value_or_monostate<detail::declared_result_t<X>>...>> join(X... x)
{
  auto done = co_await detail::fan_in(
      detail::fan_in_policy::join, detail::as_branch(std::move(x))...);
  detail::throw_first_failure(done);
  co_return std::apply(
      [](auto&... o) {
        return std::tuple<detail::value_or_monostate<detail::branch_result_t<X>>...>(
            detail::take_value(std::move(o))...);
      },
      done.outcomes);
}

/// join() of every element of @p branches (a range of one awaitable type).
/**
 * As join(X...): every element is a branch, started when the join starts;
 * the first failure cancels the others. An empty range completes at once.
 * @param branches The range of branches, taken by value.
 * @returns a lazy coroutine of `std::vector` of the values in the range's
 * order; of `void` for branches of `void`.
 * @throws std::logic_error, at its await, as join(X...).
 */
template <std::ranges::range Range>
coroutine<detail::join_range_result<detail::range_branch_result<Range>>> join(Range branches)
{
  using R = detail::range_branch_result<Range>;
  auto done = co_await detail::fan_in_range(detail::fan_in_policy::join, branches);
  detail::throw_first_failure(done);
  if constexpr (!std::is_void_v<R>)
  {
    std::vector<R> values;
    values.reserve(done.outcomes.size());
    for (auto& o : done.outcomes)
      values.push_back(detail::unwrap<R>(std::move(o)));
    co_return values;
  }
}

} // namespace coflow

#endif // COFLOW_JOIN_HPP
