//
// coflow/detail/default_token.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// as_default_on for coflow's completion tokens, in the shape of Asio's
// use_awaitable_t: an executor adapter naming the token as its default.
//

#ifndef COFLOW_DETAIL_DEFAULT_TOKEN_HPP
#define COFLOW_DETAIL_DEFAULT_TOKEN_HPP

#include <type_traits>
#include <utility>

namespace coflow {
namespace detail {

/// Base of a token type @p Token: gives it executor_with_default,
/// as_default_on_t and as_default_on().
template <class Token>
struct default_token
{
  /// Adapts an executor so that Token is its default completion token.
  template <class InnerExecutor>
  struct executor_with_default : InnerExecutor
  {
    using default_completion_token_type = Token;

    template <class InnerExecutor1>
      requires(!std::is_same_v<InnerExecutor1, executor_with_default>
          && std::is_convertible_v<InnerExecutor1, InnerExecutor>)
    executor_with_default(const InnerExecutor1& ex) noexcept
      : InnerExecutor(ex)
    {
    }
  };

  /// Type alias: an I/O object type with Token as its default token.
  template <class T>
  using as_default_on_t = typename T::template rebind_executor<
      executor_with_default<typename T::executor_type>>::other;

  /// Returns @p object with Token as its default completion token.
  template <class T>
  static as_default_on_t<std::decay_t<T>> as_default_on(T&& object)
  {
    return as_default_on_t<std::decay_t<T>>(std::forward<T>(object));
  }
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_DEFAULT_TOKEN_HPP
