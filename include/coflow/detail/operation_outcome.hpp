//
// coflow/detail/operation_outcome.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// From an Asio completion signature to a result: the value type an operation
// produces, and the outcome (value or error) of one completion. Shared by
// use_deferred and use_coroutine, so both map signatures alike.
//

#ifndef COFLOW_DETAIL_OPERATION_OUTCOME_HPP
#define COFLOW_DETAIL_OPERATION_OUTCOME_HPP

#include <coflow/detail/deferred_state.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>

namespace coflow {
namespace detail {

template <class... Args>
struct operation_value;

template <>
struct operation_value<>
{
  using type = void;
};

template <class A>
struct operation_value<A>
{
  using type = A;
};

template <class A, class B, class... Rest>
struct operation_value<A, B, Rest...>
{
  using type = std::tuple<A, B, Rest...>;
};

template <class A>
inline constexpr bool is_error_argument =
    std::is_same_v<A, boost::system::error_code>
    || std::is_same_v<A, std::exception_ptr>;

/// The value type for completion arguments Args (decayed): a leading
/// error_code or exception_ptr is the error channel, the rest the value.
template <class... Args>
struct operation_signature
{
  using value = typename operation_value<Args...>::type;
};

template <class First, class... Rest>
  requires is_error_argument<First>
struct operation_signature<First, Rest...>
{
  using value = typename operation_value<Rest...>::type;
};

template <class Signature>
struct signature_value;

template <class R, class... Args>
struct signature_value<R(Args...)>
{
  using type = typename operation_signature<std::decay_t<Args>...>::value;
};

/// The outcome of an operation that succeeded with @p args.
template <class T, class... Args>
outcome<T> operation_success(Args&&... args)
{
  if constexpr (sizeof...(Args) == 0)
    return outcome<T>(std::in_place_index<0>);
  else if constexpr (sizeof...(Args) == 1)
    return outcome<T>(std::in_place_index<0>, std::forward<Args>(args)...);
  else
    return outcome<T>(std::in_place_index<0>, T(std::forward<Args>(args)...));
}

template <class T, class... Args>
outcome<T> make_operation_outcome(Args&&... args)
{
  if constexpr (sizeof...(Args) > 0)
  {
    return [](auto&& first, auto&&... rest) -> outcome<T> {
      using first_type = std::decay_t<decltype(first)>;
      if constexpr (std::is_same_v<first_type, std::exception_ptr>)
      {
        if (first)
          return outcome<T>(std::in_place_index<1>, first);
        return operation_success<T>(std::forward<decltype(rest)>(rest)...);
      }
      else if constexpr (std::is_same_v<first_type, boost::system::error_code>)
      {
        if (first)
          return outcome<T>(std::in_place_index<1>,
              std::make_exception_ptr(boost::system::system_error(first)));
        return operation_success<T>(std::forward<decltype(rest)>(rest)...);
      }
      else
      {
        return operation_success<T>(std::forward<decltype(first)>(first),
            std::forward<decltype(rest)>(rest)...);
      }
    }(std::forward<Args>(args)...);
  }
  else
  {
    return operation_success<T>();
  }
}

/// The outcome of one completion with @p args: a failing error code becomes
/// boost::system::system_error, a non-null exception_ptr the error itself.
/// Never throws: building the error (its message allocates) or the value
/// may fail, and that failure is then the outcome, since a completion
/// handler that throws would lose the result (DESIGN.md §4, allocation).
template <class T, class... Args>
outcome<T> operation_outcome(Args&&... args) noexcept
{
  try
  {
    return make_operation_outcome<T>(std::forward<Args>(args)...);
  }
  catch (...)
  {
    return outcome<T>(std::in_place_index<1>, std::current_exception());
  }
}

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_OPERATION_OUTCOME_HPP
