//
// coflow/detail/coroutine_operation.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// What an Asio operation returns for use_coroutine: the operation, not yet
// initiated, which a coroutine body initiates when it awaits it.
//

#ifndef COFLOW_DETAIL_COROUTINE_OPERATION_HPP
#define COFLOW_DETAIL_COROUTINE_OPERATION_HPP

#include <tuple>
#include <utility>

namespace coflow {
namespace detail {

/// An operation not yet initiated: what use_coroutine returns. Awaiting it
/// in a body initiates it with a handler that resumes the body.
template <class Signature, class Initiation, class... Args>
class [[nodiscard]] coroutine_operation
{
public:
  using signature = Signature;

  coroutine_operation(Initiation init, Args... args)
    : initiation_(std::move(init)), args_(std::move(args)...)
  {
  }

  /// Initiates the operation with @p handler (as Asio's deferred operation
  /// is initiated).
  template <class Handler>
  void operator()(Handler&& handler) &&
  {
    std::apply(
        [&](Args&... args) {
          std::move(initiation_)(std::forward<Handler>(handler), std::move(args)...);
        },
        args_);
  }

private:
  Initiation initiation_;
  std::tuple<Args...> args_;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_COROUTINE_OPERATION_HPP
