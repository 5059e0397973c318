//
// test/use_deferred.cpp: the coflow::use_deferred completion token.
//

#define BOOST_TEST_MODULE use_deferred
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/use_deferred.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <tuple>

namespace asio = boost::asio;
using coflow_test::holds;
using coflow_test::loopback_pair;
using asio::ip::tcp;
using boost::system::error_code;
using coflow::deferred;
using coflow::use_deferred;

namespace {

/// Initiates an operation that completes through the executor with the
/// given arguments. It names its I/O executor, as Asio's initiations do.
struct initiate_complete_with
{
  using executor_type = asio::io_context::executor_type;
  asio::io_context* io;

  executor_type get_executor() const noexcept { return io->get_executor(); }

  template <class Handler, class... Values>
  void operator()(Handler handler, Values... values) const
  {
    asio::post(*io, [h = std::move(handler), values...]() mutable {
      std::move(h)(values...);
    });
  }
};

/// An asynchronous operation with any signature.
template <class Signature, class Token, class... Args>
auto async_complete_with(asio::io_context& io, Token&& token, Args... args)
{
  return asio::async_initiate<Token, Signature>(
      initiate_complete_with{&io}, token, args...);
}

} // namespace

BOOST_AUTO_TEST_SUITE(signatures)

BOOST_AUTO_TEST_CASE(mapping_to_value_types)
{
  asio::io_context io;
  asio::steady_timer timer(io);
  tcp::socket socket(io);
  std::array<char, 4> buffer;

  static_assert(std::is_same_v<decltype(timer.async_wait(use_deferred)), deferred<void>>);
  static_assert(std::is_same_v<decltype(socket.async_read_some(asio::buffer(buffer), use_deferred)),
      deferred<std::size_t>>);
  static_assert(std::is_same_v<decltype(asio::post(io, use_deferred)), deferred<void>>);
  static_assert(std::is_same_v<
      decltype(async_complete_with<void(error_code, int, std::string)>(io, use_deferred, error_code(), 1, std::string())),
      deferred<std::tuple<int, std::string>>>);
  static_assert(std::is_same_v<
      decltype(async_complete_with<void(int)>(io, use_deferred, 1)), deferred<int>>);
  static_assert(std::is_same_v<
      decltype(async_complete_with<void(int, double)>(io, use_deferred, 1, 2.0)),
      deferred<std::tuple<int, double>>>);
  static_assert(std::is_same_v<
      decltype(async_complete_with<void(std::exception_ptr, int)>(io, use_deferred, std::exception_ptr(), 1)),
      deferred<int>>);
  static_assert(std::is_same_v<
      decltype(async_complete_with<void(std::exception_ptr)>(io, use_deferred, std::exception_ptr())),
      deferred<void>>);
  timer.cancel();
  io.run();
}

BOOST_AUTO_TEST_CASE(values_arrive)
{
  asio::io_context io;
  auto a = async_complete_with<void(error_code, int, std::string)>(
      io, use_deferred, error_code(), 7, std::string("seven"));
  auto b = async_complete_with<void(int)>(io, use_deferred, 3);
  auto c = async_complete_with<void(std::exception_ptr, int)>(
      io, use_deferred, std::exception_ptr(), 9);
  auto d = async_complete_with<void()>(io, use_deferred);
  std::tuple<int, std::string> got_a;
  int got_b = 0, got_c = 0;
  bool got_d = false;
  a.async_wait([&](std::exception_ptr, std::tuple<int, std::string> v) { got_a = v; });
  b.async_wait([&](std::exception_ptr, int v) { got_b = v; });
  c.async_wait([&](std::exception_ptr, int v) { got_c = v; });
  d.async_wait([&](std::exception_ptr e) { got_d = !e; });
  io.run();
  BOOST_TEST(std::get<0>(got_a) == 7);
  BOOST_TEST(std::get<1>(got_a) == "seven");
  BOOST_TEST(got_b == 3);
  BOOST_TEST(got_c == 9);
  BOOST_TEST(got_d);
}

BOOST_AUTO_TEST_CASE(error_code_becomes_system_error)
{
  asio::io_context io;
  auto d = async_complete_with<void(error_code, int)>(
      io, use_deferred, error_code(asio::error::connection_reset), 0);
  error_code seen;
  d.async_wait([&](std::exception_ptr e, int) {
    try
    {
      std::rethrow_exception(e);
    }
    catch (const boost::system::system_error& x)
    {
      seen = x.code();
    }
  });
  io.run();
  BOOST_TEST((seen == asio::error::connection_reset));
}

BOOST_AUTO_TEST_CASE(exception_ptr_is_the_error)
{
  asio::io_context io;
  auto d = async_complete_with<void(std::exception_ptr)>(
      io, use_deferred, std::make_exception_ptr(std::runtime_error("op failed")));
  bool seen = false;
  d.async_wait([&](std::exception_ptr e) { seen = holds<std::runtime_error>(e); });
  io.run();
  BOOST_TEST(seen);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(timers)

BOOST_AUTO_TEST_CASE(bound_to_the_io_executor)
{
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::milliseconds(1));
  auto d = timer.async_wait(use_deferred);
  BOOST_TEST((d.get_executor() == timer.get_executor()));
  BOOST_TEST(!d.called()); // started at once, completes later
  bool fired = false;
  d.async_wait([&](std::exception_ptr e) { fired = !e; });
  io.run();
  BOOST_TEST(fired);
}

BOOST_AUTO_TEST_CASE(paused_timer_result_is_held)
{
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::milliseconds(1));
  auto d = timer.async_wait(use_deferred);
  int callbacks = 0, consumers = 0;
  d.add_callback([&] { ++callbacks; });
  d.async_wait([&](std::exception_ptr) { ++consumers; });
  d.pause();
  io.run(); // the timer fires: the producer is not stopped by the pause
  io.restart();
  BOOST_TEST(d.called());
  BOOST_TEST(callbacks == 0);
  BOOST_TEST(consumers == 0);
  d.unpause();
  BOOST_TEST(callbacks == 1);
  io.run();
  BOOST_TEST(consumers == 1);
}

BOOST_AUTO_TEST_CASE(cancel_emits_terminal_on_the_operation)
{
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::hours(1));
  auto d = timer.async_wait(use_deferred);
  std::exception_ptr seen;
  d.async_wait([&](std::exception_ptr e) { seen = e; });
  d.cancel();
  BOOST_TEST(d.called()); // failed at once
  // The emit reached the operation: the timer has no pending wait left.
  BOOST_TEST(timer.cancel() == 0u);
  // run() returns (with an hour to go it would block otherwise); the
  // operation's own completion is ignored, not an already_called_error.
  io.run();
  BOOST_TEST(holds<coflow::cancelled_error>(seen));
  BOOST_CHECK_NO_THROW(d.cancel());
}

BOOST_AUTO_TEST_CASE(as_default_on)
{
  asio::io_context io;
  auto timer = coflow::use_deferred_t::as_default_on(
      asio::steady_timer(io, std::chrono::milliseconds(1)));
  deferred<void> d = timer.async_wait();
  bool fired = false;
  d.async_wait([&](std::exception_ptr e) { fired = !e; });
  io.run();
  BOOST_TEST(fired);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sockets)

BOOST_AUTO_TEST_CASE(read_on_loopback)
{
  asio::io_context io;
  loopback_pair pair(io);
  std::array<char, 16> buffer{};
  auto d = pair.server.async_read_some(asio::buffer(buffer), use_deferred);
  asio::write(pair.client, asio::buffer(std::string("hello")));
  std::size_t n = 0;
  d.async_wait([&](std::exception_ptr e, std::size_t bytes) {
    BOOST_TEST(!e);
    n = bytes;
  });
  io.run();
  BOOST_TEST(n == 5u);
  BOOST_TEST(std::string(buffer.data(), n) == "hello");
}

BOOST_AUTO_TEST_CASE(pending_read_cancelled)
{
  asio::io_context io;
  loopback_pair pair(io);
  std::array<char, 16> buffer{};
  auto d = pair.server.async_read_some(asio::buffer(buffer), use_deferred);
  std::exception_ptr seen;
  int calls = 0;
  d.async_wait([&](std::exception_ptr e, std::size_t) {
    ++calls;
    seen = e;
  });
  io.poll(); // the read is pending: nothing was written
  BOOST_TEST(!d.called());
  d.cancel();
  io.run(); // returns: the read was aborted, nothing else is pending
  BOOST_TEST(calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(seen));

  // The socket is still usable: a new read gets the next bytes.
  io.restart();
  auto again = pair.server.async_read_some(asio::buffer(buffer), use_deferred);
  asio::write(pair.client, asio::buffer(std::string("after")));
  std::size_t n = 0;
  again.async_wait([&](std::exception_ptr, std::size_t bytes) { n = bytes; });
  io.run();
  BOOST_TEST(std::string(buffer.data(), n) == "after");
}

BOOST_AUTO_TEST_CASE(composed_read_cancelled)
{
  asio::io_context io;
  loopback_pair pair(io);
  std::array<char, 8> buffer{};
  auto d = asio::async_read(pair.server, asio::buffer(buffer), use_deferred);
  asio::write(pair.client, asio::buffer(std::string("abc"))); // not enough
  io.poll();
  d.cancel();
  std::exception_ptr seen;
  d.async_wait([&](std::exception_ptr e, std::size_t) { seen = e; });
  io.run();
  BOOST_TEST(holds<coflow::cancelled_error>(seen));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(interop)

BOOST_AUTO_TEST_CASE(co_spawn_into_a_deferred)
{
  asio::io_context io;
  auto d = asio::co_spawn(io, []() -> asio::awaitable<int> { co_return 42; }, use_deferred);
  static_assert(std::is_same_v<decltype(d), deferred<int>>);
  int seen = 0;
  d.async_wait([&](std::exception_ptr, int v) { seen = v; });
  io.run();
  BOOST_TEST(seen == 42);
}

BOOST_AUTO_TEST_CASE(cancelling_the_deferred_cancels_the_awaitable)
{
  asio::io_context io;
  bool aborted = false;
  auto d = asio::co_spawn(io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
        try
        {
          co_await t.async_wait(asio::use_awaitable);
        }
        catch (const boost::system::system_error& e)
        {
          aborted = e.code() == asio::error::operation_aborted;
        }
      },
      use_deferred);
  io.poll();
  d.cancel();
  io.run();
  BOOST_TEST(aborted);
}

BOOST_AUTO_TEST_CASE(awaited_from_an_awaitable)
{
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::milliseconds(1));
  auto d = timer.async_wait(use_deferred);
  bool done = false;
  asio::co_spawn(io,
      [&]() -> asio::awaitable<void> {
        co_await d.async_wait(asio::use_awaitable);
        done = true;
      },
      asio::detached);
  io.run();
  BOOST_TEST(done);
}

BOOST_AUTO_TEST_SUITE_END()
