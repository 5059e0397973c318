//
// src/error.cpp
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
  static const std::exception_ptr error = std::make_exception_ptr(cancelled_error());
  return error;
}

} // namespace detail
} // namespace coflow
