//
// src/unhandled_error.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/unhandled_error.hpp>

#include <coflow/error.hpp>

#include <iostream>
#include <mutex>
#include <utility>

namespace coflow {
namespace {

std::mutex handler_mutex;
unhandled_error_handler installed_handler;

void default_handler(std::exception_ptr error)
{
  try
  {
    std::rethrow_exception(error);
  }
  catch (const std::exception& e)
  {
    std::cerr << "coflow: unhandled error: " << e.what() << std::endl;
  }
  catch (...)
  {
    std::cerr << "coflow: unhandled error of unknown type" << std::endl;
  }
}

} // namespace

unhandled_error_handler set_unhandled_error_handler(unhandled_error_handler handler)
{
  std::lock_guard<std::mutex> lock(handler_mutex);
  return std::exchange(installed_handler, std::move(handler));
}

namespace detail {

void report_unhandled_error(std::exception_ptr error) noexcept
{
  if (!error)
    return;
  try
  {
    try
    {
      std::rethrow_exception(error);
    }
    catch (const cancelled_error&)
    {
      return;
    }
    catch (...)
    {
    }

    // Copied under the lock, called outside it: a handler may install another.
    unhandled_error_handler handler;
    {
      std::lock_guard<std::mutex> lock(handler_mutex);
      handler = installed_handler;
    }
    if (handler)
      handler(error);
    else
      default_handler(error);
  }
  catch (...)
  {
    // An error about an error has nowhere left to go.
  }
}

} // namespace detail
} // namespace coflow
