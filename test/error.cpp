//
// test/error.cpp: coflow/error.hpp: cancelled_error and already_called_error
// (doc/deferred.md, doc/misuse.md).
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE error
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/error.hpp>

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/spawn.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow::coroutine;
using coflow::deferred;
using coflow_test::holds;
using coflow_test::received;

BOOST_AUTO_TEST_SUITE(cancelled)

BOOST_AUTO_TEST_CASE(is_a_system_error_with_code_operation_aborted)
{
  static_assert(std::is_base_of_v<boost::system::system_error, coflow::cancelled_error>);
  coflow::cancelled_error e;
  const boost::system::system_error& base = e;
  BOOST_TEST((base.code() == asio::error::operation_aborted));
  BOOST_TEST((base.code().category() == boost::system::system_category()));
  const std::string what = base.what();
  BOOST_TEST(what.rfind("coflow: cancelled", 0) == 0u); // a prefix
  BOOST_TEST(what.find(base.code().message()) != std::string::npos);
}

// "Code written for Asio's own cancellation handles it unchanged": a body
// that catches system_error and tests its code sees a coflow cancel as an
// Asio one, and its consumer still receives a cancelled_error.
BOOST_FIXTURE_TEST_CASE(is_caught_as_asio_cancellation, io_fixture)
{
  deferred<int> never(io);
  boost::system::error_code seen;
  auto body = [&]() -> coroutine<int> {
    try
    {
      co_return co_await never;
    }
    catch (const boost::system::system_error& e)
    {
      seen = e.code();
      throw;
    }
  };
  auto c = coflow::spawn(io, body());
  received<int> r;
  c.async_wait(r.handler());
  poll();
  c.cancel();
  io.run();
  BOOST_TEST((seen == asio::error::operation_aborted));
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
}

BOOST_AUTO_TEST_CASE(one_shared_error_for_every_cancellation)
{
  const std::exception_ptr& shared = coflow::detail::shared_cancelled_error();
  BOOST_TEST(holds<coflow::cancelled_error>(shared));
  BOOST_TEST((&coflow::detail::shared_cancelled_error() == &shared));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(already_called)

BOOST_AUTO_TEST_CASE(already_called_error_is_a_logic_error)
{
  coflow::already_called_error e;
  const std::logic_error& base = e;
  BOOST_TEST(std::string(base.what()).find("already called") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(its_message_is_the_one_documented)
{
  BOOST_TEST(std::string(coflow::already_called_error().what())
      == "coflow: deferred already called");
}

// Either firing after either firing throws it, and the first result stands.
BOOST_FIXTURE_TEST_CASE(thrown_by_every_second_firing, io_fixture)
{
  const auto failure = std::make_exception_ptr(std::runtime_error("first"));
  deferred<int> by_value(io), by_error(io);
  by_value.callback(1);
  by_error.errback(failure);
  for (auto* d : {&by_value, &by_error})
  {
    BOOST_CHECK_THROW(d->callback(2), coflow::already_called_error);
    BOOST_CHECK_THROW(d->errback(std::make_exception_ptr(std::runtime_error("second"))),
        coflow::already_called_error);
  }
  received<int> v, e;
  by_value.async_wait(v.handler());
  by_error.async_wait(e.handler());
  io.run();
  BOOST_TEST((v.value == 1));
  BOOST_TEST(!v.error);
  BOOST_TEST((e.error == failure));
}

BOOST_AUTO_TEST_SUITE_END()
