//
// coflow/detail/deferred_traits.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Type traits of deferred<T, Executor>: the signature its consumers complete
// with, and what then() yields.
//

#ifndef COFLOW_DETAIL_DEFERRED_TRAITS_HPP
#define COFLOW_DETAIL_DEFERRED_TRAITS_HPP

#include <exception>
#include <type_traits>

namespace coflow {

template <class T, class Executor>
class deferred;

namespace detail {

template <class T>
struct wait_signature
{
  using type = void(std::exception_ptr, T);
};

template <>
struct wait_signature<void>
{
  using type = void(std::exception_ptr);
};

template <class R>
struct is_deferred : std::false_type
{
};

template <class U, class E>
struct is_deferred<deferred<U, E>> : std::true_type
{
};

/// What then(f) yields: f's result, or U where f returns deferred<U>.
template <class R>
struct then_value
{
  using type = R;
};

template <class U, class E>
struct then_value<deferred<U, E>>
{
  using type = U;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_DEFERRED_TRAITS_HPP
