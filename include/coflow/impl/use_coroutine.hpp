//
// coflow/impl/use_coroutine.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Asio's async_result for use_coroutine (and, in the adapters header, for
// Asio's token adapters around it).
//

#ifndef COFLOW_IMPL_USE_COROUTINE_HPP
#define COFLOW_IMPL_USE_COROUTINE_HPP

#include <coflow/detail/coroutine_operation.hpp>

#include <boost/asio/async_result.hpp>

#include <type_traits>
#include <utility>

namespace boost {
namespace asio {

template <typename R, typename... Args>
class async_result<coflow::use_coroutine_t, R(Args...)>
{
public:
  template <class Initiation, class RawToken, class... InitArgs>
  static auto initiate(Initiation&& initiation, RawToken&&, InitArgs&&... args)
  {
    return coflow::detail::coroutine_operation<R(Args...),
        std::decay_t<Initiation>, std::decay_t<InitArgs>...>(
        std::forward<Initiation>(initiation), std::forward<InitArgs>(args)...);
  }
};

} // namespace asio
} // namespace boost

#include <coflow/detail/use_coroutine_adapters.hpp>

#endif // COFLOW_IMPL_USE_COROUTINE_HPP
