//
// src/error.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/error.hpp>

#include <boost/asio/error.hpp>

namespace coflow {

cancelled_error::cancelled_error()
  : boost::system::system_error(boost::asio::error::operation_aborted,
        "coflow: cancelled")
{
}

already_called_error::already_called_error()
  : std::logic_error("coflow: deferred already called")
{
}

namespace detail {

const std::exception_ptr& shared_cancelled_error() noexcept
{
  // Built once, by the initialiser below: building it allocates (the
  // exception's message), and this function is noexcept and called on
  // cancellation and allocation-failure paths, where a std::bad_alloc would
  // be std::terminate. A call from another translation unit's static
  // initialiser, before that one has run, builds it then.
  static const std::exception_ptr error = std::make_exception_ptr(cancelled_error());
  return error;
}

namespace {

// Builds the shared error during the library's static initialisation, before
// main(): once the program runs, shared_cancelled_error() never allocates.
[[maybe_unused]] const std::exception_ptr& eager_cancelled_error =
    shared_cancelled_error();

} // namespace

} // namespace detail
} // namespace coflow
