//
// test/use_coroutine.cpp: Asio operations and asio::awaitable awaited from
// coroutine bodies, with the cascade (DESIGN.md section 4, last two rows of
// the table).
//

#define BOOST_TEST_MODULE use_coroutine
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/use_coroutine.hpp>

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <string>
#include <vector>

namespace asio = boost::asio;
using coflow_test::loopback_pair;
using asio::ip::tcp;
using coflow::coroutine;
using coflow::use_coroutine;
using namespace std::chrono_literals;

namespace {

using event_log = std::vector<std::string>;

/// Runs ready handlers until none is left, without blocking: the reactor
/// sees loopback readiness and expired timers at once.
void run_until_quiet(asio::io_context& io)
{
  for (int quiet = 0, rounds = 0; quiet < 2 && rounds < 100000; ++rounds)
  {
    quiet = io.poll() == 0 ? quiet + 1 : 0;
    io.restart();
  }
}

/// An operation that ignores cancellation: it completes when @p release
/// fires, whatever the slot says.
struct stubborn_operation
{
  asio::io_context* io;
  asio::steady_timer* release;

  template <class Token>
  auto operator()(Token&& token)
  {
    return asio::async_initiate<Token, void(boost::system::error_code, int)>(
        [this](auto handler) {
          release->async_wait([h = std::move(handler)](boost::system::error_code) mutable {
            std::move(h)(boost::system::error_code(), 99);
          });
        },
        token);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(operations)

BOOST_AUTO_TEST_CASE(timer_post_and_values)
{
  asio::io_context io;
  loopback_pair pair(io);
  auto body = [&]() -> coroutine<std::string> {
    asio::steady_timer t(io, 1ms);
    co_await t.async_wait(use_coroutine);
    co_await asio::post(io, use_coroutine);
    std::array<char, 16> buffer{};
    std::size_t n = co_await pair.server.async_read_some(asio::buffer(buffer), use_coroutine);
    co_return std::string(buffer.data(), n);
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  asio::write(pair.client, asio::buffer(std::string("abc")));
  io.run();
  BOOST_TEST(f.get() == "abc");
}

BOOST_AUTO_TEST_CASE(error_code_is_thrown)
{
  asio::io_context io;
  loopback_pair pair(io);
  pair.client.close();
  auto body = [&]() -> coroutine<bool> {
    std::array<char, 4> buffer;
    try
    {
      co_await pair.server.async_read_some(asio::buffer(buffer), use_coroutine);
    }
    catch (const boost::system::system_error& e)
    {
      co_return e.code() == asio::error::eof;
    }
    co_return false;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get());
}

BOOST_AUTO_TEST_CASE(asio_deferred_operation_and_default_token)
{
  asio::io_context io;
  auto body = [&]() -> coroutine<int> {
    asio::steady_timer t(io, 1ms);
    co_await t.async_wait(asio::deferred);
    auto d = coflow::use_coroutine_t::as_default_on(asio::steady_timer(io, 1ms));
    co_await d.async_wait();
    co_return 3;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 3);
}

namespace {

/// An operation whose initiation throws after taking the handler, or drops
/// the handler without calling it.
template <class Token>
auto async_misbehave(bool throw_it, Token&& token)
{
  return asio::async_initiate<Token, void(boost::system::error_code)>(
      [throw_it](auto handler) {
        auto dropped = std::move(handler);
        if (throw_it)
          throw std::runtime_error("initiation failed");
      },
      token);
}

} // namespace

BOOST_AUTO_TEST_CASE(an_initiation_that_throws_throws_in_the_body)
{
  asio::io_context io;
  std::string seen;
  auto body = [&]() -> coroutine<int> {
    try
    {
      co_await async_misbehave(true, use_coroutine);
    }
    catch (const std::runtime_error& e)
    {
      seen = e.what();
    }
    co_return 1; // the body goes on
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(seen == "initiation failed");
  BOOST_TEST(f.get() == 1);
}

BOOST_AUTO_TEST_CASE(an_operation_that_drops_its_handler_is_an_error)
{
  asio::io_context io;
  auto body = [&]() -> coroutine<int> {
    co_await async_misbehave(false, use_coroutine);
    co_return 1;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_CHECK_THROW(f.get(), std::logic_error);
}

BOOST_AUTO_TEST_CASE(paused_while_the_timer_fires)
{
  asio::io_context io;
  loopback_pair pair(io);
  asio::steady_timer timer(io, asio::steady_timer::time_point::min()); // due
  int resumed = 0;
  std::string got;
  coroutine<void> c;
  auto body = [&]() -> coroutine<void> {
    // A pause while the body runs takes effect at its next suspension point:
    // the timer fires while the coroutine is paused.
    c.pause();
    co_await timer.async_wait(use_coroutine);
    ++resumed;
    std::array<char, 8> buffer{};
    c.pause();
    std::size_t n = co_await pair.server.async_read_some(asio::buffer(buffer), use_coroutine);
    got.assign(buffer.data(), n);
  };
  c = body();
  (void)coflow::spawn(io, c);
  run_until_quiet(io);
  BOOST_TEST(timer.cancel() == 0u); // it fired...
  BOOST_TEST(resumed == 0);         // ...and the completion is held
  c.unpause();
  BOOST_TEST(resumed == 0); // never inside unpause()
  run_until_quiet(io);
  BOOST_TEST(resumed == 1);

  // Bytes that arrive while paused are held in full, not dropped.
  asio::write(pair.client, asio::buffer(std::string("held")));
  run_until_quiet(io);
  BOOST_TEST(got.empty());
  c.unpause();
  io.run();
  BOOST_TEST(got == "held");
}

BOOST_AUTO_TEST_CASE(cancel_emits_terminal_and_waits_for_completion)
{
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::hours(1));
  event_log log;
  auto body = [&]() -> coroutine<void> {
    try
    {
      co_await timer.async_wait(use_coroutine);
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back("cancelled");
    }
  };
  auto c = coflow::spawn(io, body());
  io.poll();
  io.restart();
  c.cancel();
  BOOST_TEST(timer.cancel() == 0u); // the terminal emit removed the wait
  io.run(); // returns: nothing waits for an hour
  BOOST_TEST((log == event_log{"cancelled"}));
}

BOOST_AUTO_TEST_CASE(operation_ignoring_cancel_delays_the_unwinding)
{
  asio::io_context io;
  asio::steady_timer release(io, std::chrono::hours(1));
  event_log log;
  auto body = [&]() -> coroutine<int> {
    try
    {
      co_return co_await stubborn_operation{&io, &release}(use_coroutine);
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back("unwound");
      throw;
    }
  };
  auto c = coflow::spawn(io, body());
  io.poll();
  io.restart();
  c.cancel();
  io.poll();
  io.restart();
  BOOST_TEST(log.empty()); // the operation is still in flight
  asio::post(io, [&] {
    log.push_back("released");
    release.cancel();
  });
  auto f = c.async_wait(asio::use_future);
  io.run();
  BOOST_TEST((log == event_log{"released", "unwound"}));
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error); // 99 was discarded
}

BOOST_AUTO_TEST_CASE(context_destruction_destroys_the_frame)
{
  event_log log;
  {
    asio::io_context io;
    asio::steady_timer timer(io, std::chrono::hours(1));
    struct cleanup
    {
      event_log& log;
      ~cleanup() { log.push_back("frame destroyed"); }
    };
    auto body = [&]() -> coroutine<void> {
      cleanup c{log};
      co_await timer.async_wait(use_coroutine);
    };
    (void)coflow::spawn(io, body());
    io.poll();
    BOOST_TEST(log.empty());
  }
  BOOST_TEST((log == event_log{"frame destroyed"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(awaitables)

asio::awaitable<int> triple_later(int x)
{
  asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
  co_await t.async_wait(asio::use_awaitable);
  co_return 3 * x;
}

BOOST_AUTO_TEST_CASE(awaitable_value)
{
  asio::io_context io;
  auto body = [&]() -> coroutine<int> { co_return co_await triple_later(5); };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 15);
}

BOOST_AUTO_TEST_CASE(cancel_reaches_the_awaitables_operation)
{
  asio::io_context io;
  event_log log;
  auto inner = [&]() -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1));
    try
    {
      co_await t.async_wait(asio::use_awaitable);
    }
    catch (const boost::system::system_error& e)
    {
      if (e.code() == asio::error::operation_aborted)
        log.push_back("awaitable aborted");
      throw;
    }
  };
  auto body = [&]() -> coroutine<void> {
    try
    {
      co_await inner();
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back("body cancelled");
      throw;
    }
  };
  auto c = coflow::spawn(io, body());
  io.poll();
  io.restart();
  c.cancel();
  io.run(); // returns: the hour-long timer was cancelled
  BOOST_TEST((log == event_log{"awaitable aborted", "body cancelled"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sockets)

BOOST_AUTO_TEST_CASE(paused_reader_loses_no_byte)
{
  // An echo on 127.0.0.1: the server echoes, the client's reader coroutine
  // counts what comes back; the reader is paused while most of the data
  // arrives, and every byte is still read, in order.
  asio::io_context io;
  loopback_pair pair(io);
  constexpr std::size_t total = 64 * 1024;

  auto echo = [&]() -> coroutine<void> {
    std::array<char, 4096> buffer;
    std::size_t echoed = 0;
    while (echoed < total)
    {
      std::size_t n = co_await pair.server.async_read_some(asio::buffer(buffer), use_coroutine);
      co_await asio::async_write(pair.server, asio::buffer(buffer.data(), n), use_coroutine);
      echoed += n;
    }
  };

  std::string received;
  auto reader = [&]() -> coroutine<void> {
    std::array<char, 1000> buffer;
    while (received.size() < total)
    {
      std::size_t n = co_await pair.client.async_read_some(asio::buffer(buffer), use_coroutine);
      received.append(buffer.data(), n);
    }
  };

  std::string sent(total, '\0');
  for (std::size_t i = 0; i < total; ++i)
    sent[i] = static_cast<char>('a' + i % 26);

  auto writer = [&]() -> coroutine<void> {
    co_await asio::async_write(pair.client, asio::buffer(sent), use_coroutine);
  };

  (void)coflow::spawn(io, echo());
  auto r = coflow::spawn(io, reader());
  run_until_quiet(io); // the reader waits in async_read_some
  r.pause();
  (void)coflow::spawn(io, writer());
  // The writer and the echo move data; the reader's read completes but is
  // held: nothing is appended while paused.
  run_until_quiet(io);
  BOOST_TEST(received.empty());
  r.unpause();
  auto f = r.async_wait(asio::use_future);
  io.run();
  f.get();
  BOOST_TEST(received.size() == total);
  BOOST_TEST((received == sent));
}

BOOST_AUTO_TEST_SUITE_END()
