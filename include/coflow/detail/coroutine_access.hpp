//
// coflow/detail/coroutine_access.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Reaches the coroutine state behind a coroutine handle, for the library's own
// machinery.
//

#ifndef COFLOW_DETAIL_COROUTINE_ACCESS_HPP
#define COFLOW_DETAIL_COROUTINE_ACCESS_HPP

#include <coflow/detail/coroutine_state.hpp>

namespace coflow {

template <class T, class Executor>
class coroutine;

} // namespace coflow

namespace coflow {
namespace detail {

struct coroutine_access
{
  template <class T, class Executor>
  static coroutine<T, Executor> adopt(coroutine_state<T, Executor>* t) noexcept
  {
    return coroutine<T, Executor>(t);
  }

  template <class T, class Executor>
  static coroutine_state<T, Executor>& state_of(const coroutine<T, Executor>& c)
  {
    return c.checked();
  }

  template <class T, class Executor>
  static coroutine_state<T, Executor>* state_pointer(const coroutine<T, Executor>& c) noexcept
  {
    return c.coro_;
  }
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_COROUTINE_ACCESS_HPP
