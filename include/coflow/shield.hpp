//
// coflow/shield.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// shield: an await that a cancel does not stop, for cleanup that must await.
//
// Example (asio is boost::asio; std::chrono_literals are in scope):
//
// @code
// coflow::coroutine<void> close_gracefully(int& closed)
// {
//   co_await coflow::sleep(1ms);     // a goodbye message, a flush...
//   ++closed;
// }
//
// coflow::coroutine<void> session(int& closed)
// {
//   bool cancelled = false;
//   try
//   {
//     co_await coflow::sleep(1h);    // serving
//   }
//   catch (const coflow::cancelled_error&)
//   {
//     cancelled = true;              // no co_await inside a handler
//   }
//   if (cancelled)
//     co_await coflow::shield(coflow::timeout(2s, close_gracefully(closed)));
// }                                  // the result stays cancelled_error
//
// asio::io_context io;
// int closed = 0;
// auto s = coflow::spawn(io, session(closed));
// asio::post(io, [&] { s.cancel(); });
// io.run();              // closed == 1; s failed with cancelled_error
// @endcode
//

/// @file
/// shield(): an await that a cancel does not stop, for cleanup that must
/// await.
///
/// The source of this header opens with an example.

#ifndef COFLOW_SHIELD_HPP
#define COFLOW_SHIELD_HPP

#include <coflow/detail/fan_in.hpp>

#include <tuple>
#include <utility>

namespace coflow {
namespace detail {

/// A shield's await gives the branch's value.
struct single_value
{
  template <class Done>
  decltype(auto) operator()(Done&& done) const
  {
    return take_value_or_void(std::move(std::get<0>(done.outcomes)));
  }

  template <class V>
  static result_of_value<V> take_value_or_void(std::variant<V, std::exception_ptr>&& o)
  {
    return unwrap<result_of_value<V>>(std::move(o));
  }
};

} // namespace detail

/// `co_await coflow::shield(x)` runs @p x to its end even if the awaiting
/// coroutine is cancelled before or during the await (DESIGN.md §7).
/**
 * The cancel is not forwarded into @p x, and the sticky cancel does not
 * throw at this await; pause and unpause still reach @p x. After it, the
 * pending cancel takes effect at the next suspension point that is not
 * shielded, and the coroutine's result is cancelled_error as always. A
 * cancel that comes while the coroutine is paused releases the pause it
 * forwarded (a cancel overrides a pause), so the shielded work then runs.
 * @p x is anything a coroutine body can await. The shield is awaitable in a
 * coroutine body only (it changes how that body treats its own cancel);
 * bound it with timeout() inside: `shield(timeout(2s, close(s)))`.
 *
 * @p x starts when the shield is awaited, on the awaiting coroutine's
 * executor, and the body resumes there once @p x has finished.
 * @param x What to run to its end: a coroutine, a deferred, an Asio
 * operation with use_coroutine, an `asio::awaitable`, a combinator.
 * @returns an awaitable object, not a coroutine: awaiting it in a body
 * gives @p x's value, or throws @p x's error.
 * @throws std::logic_error at the call, for an empty coroutine handle.
 */
template <class X>
auto shield(X x)
{
  using R = detail::branch_result_t<X>;
  detail::fan_in_node<detail::branch_tuple<R>, detail::single_value> node{
      detail::fan_in_policy::gather, detail::branch_tuple<R>(detail::as_branch(std::move(x)))};
  node.controls.uncancelled = 1;
  node.shielded = true;
  return node;
}

} // namespace coflow

#endif // COFLOW_SHIELD_HPP
