//
// coflow/race.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// race: awaits several branches at once; the first to finish wins, the
// others are cancelled.
//
// Example (asio is boost::asio; std::chrono_literals are in scope):
//
// @code
// coflow::coroutine<std::string> reply(std::chrono::milliseconds d, std::string s)
// {
//   co_await coflow::sleep(d);
//   co_return s;
// }
//
// coflow::coroutine<std::string> fastest()
// {
//   auto winner = co_await coflow::race(reply(1h, "slow"), reply(1ms, "fast"));
//   co_return std::get<1>(winner);   // the index tells the winner; the loser is gone
// }
//
// asio::io_context io;
// auto f = coflow::spawn(io, fastest(), asio::use_future);
// io.run();              // f.get() == "fast", after 1 ms, not 1 h
// @endcode
//

/// @file
/// race(): awaits several branches at once; the first to finish wins, the
/// others are cancelled.
///
/// The source of this header opens with an example.

#ifndef COFLOW_RACE_HPP
#define COFLOW_RACE_HPP

#include <coflow/coroutine.hpp>
#include <coflow/detail/fan_in.hpp>
#include <coflow/join.hpp>

#include <cstddef>
#include <exception>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace coflow {
namespace detail {

/// The winner @p i of @p outcomes as a variant: its value at index i, or
/// its error thrown.
template <class Variant, std::size_t I = 0, class Outcomes>
Variant take_winner(Outcomes& outcomes, std::size_t i)
{
  if constexpr (I + 1 < std::tuple_size_v<Outcomes>)
    if (i != I)
      return take_winner<Variant, I + 1>(outcomes, i);
  return Variant(std::in_place_index<I>, take_value(std::move(std::get<I>(outcomes))));
}

template <class R>
using race_range_result = std::conditional_t<std::is_void_v<R>, std::size_t, std::pair<std::size_t, R>>;

} // namespace detail

/// A coroutine that runs every branch @p x at once; the first to finish
/// wins (DESIGN.md §7).
/**
 * Lazy, and started as join() is: its branches start when it starts, on
 * its executor. The winner's end, a value or an error, cancels the other
 * branches; once they have finished (their cleanup has run) the race
 * delivers the winner's value or throws its error. Losers' values are
 * discarded; a loser's error other than `cancelled_error` goes to the
 * unhandled-error handler. A branch cancelled through its own handle wins
 * with `cancelled_error`. Pause, unpause and cancel of the race reach every
 * branch; a race paused after its winner finished still waits for the last
 * unpause. A cancelled race throws `cancelled_error` once every branch has
 * finished.
 * @param x The branches, as for join().
 * @returns a lazy coroutine of `std::variant` of the branches' values
 * (void: `std::monostate`); its index is the winner's.
 * @throws std::logic_error, at its await, as join().
 */
template <class... X>
  requires(sizeof...(X) > 0 && !detail::one_range<X...>)
coroutine<std::variant<detail::value_or_monostate<detail::declared_result_t<X>>...>> race(X... x)
{
  using variant = std::variant<detail::value_or_monostate<detail::branch_result_t<X>>...>;
  auto done = co_await detail::fan_in(
      detail::fan_in_policy::race, detail::as_branch(std::move(x))...);
  co_return detail::take_winner<variant>(done.outcomes, done.first);
}

/// race() of every element of @p branches.
/**
 * As race(X...): every element is a branch; the first to finish wins and
 * the others are cancelled.
 * @param branches The range of branches, taken by value.
 * @returns a lazy coroutine of `std::pair` of the winner's index in the
 * range and its value; of the index alone for branches of `void`.
 * @throws std::invalid_argument (when awaited) for an empty range: nothing
 * could win.
 * @throws std::logic_error, at its await, as join().
 */
template <std::ranges::range Range>
coroutine<detail::race_range_result<detail::range_branch_result<Range>>> race(Range branches)
{
  using R = detail::range_branch_result<Range>;
  if (std::ranges::empty(branches))
    throw std::invalid_argument("coflow::race: no branch");
  auto done = co_await detail::fan_in_range(detail::fan_in_policy::race, branches);
  auto& won = done.outcomes[done.first];
  if constexpr (std::is_void_v<R>)
  {
    detail::unwrap<R>(std::move(won));
    co_return done.first;
  }
  else
    co_return std::pair<std::size_t, R>(done.first, detail::unwrap<R>(std::move(won)));
}

} // namespace coflow

#endif // COFLOW_RACE_HPP
