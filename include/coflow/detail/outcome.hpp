//
// coflow/detail/outcome.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The result of a deferred, a coroutine or an operation: a value or an
// error, never empty.
//

#ifndef COFLOW_DETAIL_OUTCOME_HPP
#define COFLOW_DETAIL_OUTCOME_HPP

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace coflow {
namespace detail {

/// Stands in for the value of a deferred<void>.
struct void_value
{
};

template <class T>
using value_of = std::conditional_t<std::is_void_v<T>, void_value, T>;

/// A result: of a chain, a coroutine or an operation: a value or an error, never empty.
template <class T>
using outcome = std::variant<value_of<T>, std::exception_ptr>;

/// Whether a result of type @p T can be copied to a second consumer.
/// std::is_copy_constructible is true for a container of move-only elements
/// (std::vector<std::unique_ptr<U>>: its copy constructor is declared, and
/// fails only when instantiated); so a type with a value_type is copyable
/// only if its value_type is too, recursively (std::map's pair included).
template <class T, class = void>
struct copyable : std::is_copy_constructible<T>
{
};

template <class T>
struct copyable<T, std::void_t<typename T::value_type>>
  : std::conjunction<std::is_copy_constructible<T>,
        // disjunction: instantiated only as far as needed (a number type
        // is its own value_type: boost::multiprecision)
        std::disjunction<std::is_void<typename T::value_type>, // boost::system::result<void>
            std::is_same<std::remove_cv_t<typename T::value_type>, T>,
            copyable<std::remove_cv_t<typename T::value_type>>>>
{
};

template <class T>
inline constexpr bool copyable_v = copyable<T>::value;

/// The value of an outcome (moved out, by value), or its error thrown.
template <class U>
U unwrap(outcome<U>&& o)
{
  if (o.index() == 1)
    std::rethrow_exception(std::get<1>(o));
  if constexpr (std::is_void_v<U>)
    return;
  else
    return std::get<0>(std::move(o));
}

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_OUTCOME_HPP
