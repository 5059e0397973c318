//
// test/use_coroutine.cpp: Asio operations and asio::awaitable awaited from
// coroutine bodies, with the cascade (DESIGN.md section 4, last two rows of
// the table).
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
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
using coflow_test::io_fixture;
using coflow_test::event_log;
using coflow_test::loopback_pair;
using coflow_test::run_until_quiet;
using asio::ip::tcp;
using coflow::coroutine;
using coflow::use_coroutine;
using namespace std::chrono_literals;

namespace {

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

BOOST_FIXTURE_TEST_CASE(timer_post_and_values, io_fixture)
{
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

BOOST_FIXTURE_TEST_CASE(error_code_is_thrown, io_fixture)
{
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

BOOST_FIXTURE_TEST_CASE(asio_deferred_operation_and_default_token, io_fixture)
{
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

BOOST_FIXTURE_TEST_CASE(an_initiation_that_throws_throws_in_the_body, io_fixture)
{
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

BOOST_FIXTURE_TEST_CASE(an_operation_that_drops_its_handler_is_an_error, io_fixture)
{
  auto body = [&]() -> coroutine<int> {
    co_await async_misbehave(false, use_coroutine);
    co_return 1;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_CHECK_THROW(f.get(), std::logic_error);
}

BOOST_FIXTURE_TEST_CASE(paused_while_the_timer_fires, io_fixture)
{
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
  run_until_quiet();
  BOOST_TEST(timer.cancel() == 0u); // it fired...
  BOOST_TEST(resumed == 0);         // ...and the completion is held
  c.unpause();
  BOOST_TEST(resumed == 0); // never inside unpause()
  run_until_quiet();
  BOOST_TEST(resumed == 1);

  // Bytes that arrive while paused are held in full, not dropped.
  asio::write(pair.client, asio::buffer(std::string("held")));
  run_until_quiet();
  BOOST_TEST(got.empty());
  c.unpause();
  io.run();
  BOOST_TEST(got == "held");
}

BOOST_AUTO_TEST_CASE(cancel_emits_terminal_and_waits_for_completion)
{
  // Asio emits an operation's cancellation on the operation's executor: a
  // cancel() on a thread that runs it is emitted at once; one from another
  // thread is emitted there, before what is posted after it.
  for (const bool from_outside : {false, true})
  {
    BOOST_TEST_CONTEXT("from outside the executor: " << from_outside)
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
      std::size_t still_waiting = 99;
      if (from_outside)
      {
        c.cancel(); // io is not running: this thread is not the executor's
        asio::post(io, [&] { still_waiting = timer.cancel(); });
      }
      else
      {
        asio::post(io, [&] {
          c.cancel(); // this thread runs the executor: emitted at once
          still_waiting = timer.cancel();
        });
      }
      io.run(); // returns: nothing waits for an hour
      BOOST_TEST(still_waiting == 0u); // the terminal emit removed the wait
      BOOST_TEST((log == event_log{"cancelled"}));
    }
  }
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

BOOST_FIXTURE_TEST_SUITE(awaitables, io_fixture)

asio::awaitable<int> triple_later(int x)
{
  asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
  co_await t.async_wait(asio::use_awaitable);
  co_return 3 * x;
}

BOOST_AUTO_TEST_CASE(awaitable_value)
{
  auto body = [&]() -> coroutine<int> { co_return co_await triple_later(5); };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 15);
}

BOOST_AUTO_TEST_CASE(cancel_reaches_the_awaitables_operation)
{
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
  poll();
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

// Asio's token adapters around use_coroutine (issue 10, item 19): each one
// awaited in a body, and each one with the cascade (a cancel of the
// coroutine reaches the operation).

#include <coflow/deferred.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/experimental/as_single.hpp>
#include <boost/asio/redirect_error.hpp>

#include <tuple>

BOOST_AUTO_TEST_SUITE(adapters)

BOOST_FIXTURE_TEST_CASE(redirect_error_puts_the_code_in_ec, io_fixture)
{
  loopback_pair pair(io);
  boost::system::error_code wait_ec = asio::error::fault; // overwritten
  boost::system::error_code read_ec;
  std::size_t read_n = 99;
  auto body = [&]() -> coroutine<std::string> {
    asio::steady_timer t(io, 1ms);
    co_await t.async_wait(asio::redirect_error(use_coroutine, wait_ec));
    std::array<char, 8> buffer{};
    std::size_t n = co_await pair.server.async_read_some(
        asio::buffer(buffer), asio::redirect_error(use_coroutine, read_ec));
    std::string got(buffer.data(), n);
    // The peer is gone: the error lands in read_ec, nothing is thrown.
    read_n = co_await pair.server.async_read_some(
        asio::buffer(buffer), asio::redirect_error(use_coroutine, read_ec));
    co_return got;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  asio::write(pair.client, asio::buffer(std::string("abc")));
  pair.client.close();
  io.run();
  BOOST_TEST(f.get() == "abc");
  BOOST_TEST(!wait_ec);
  BOOST_TEST(read_ec == asio::error::eof);
  BOOST_TEST(read_n == 0u);
}

BOOST_AUTO_TEST_CASE(redirect_error_cancel_of_the_coroutine_still_throws)
{
  // The cancel reaches the operation, which completes with operation_aborted
  // into ec; the body resumes with cancelled_error all the same (a cancelled
  // coroutine does not go on as if a plain error had happened).
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::hours(1));
  boost::system::error_code ec;
  event_log log;
  auto body = [&]() -> coroutine<void> {
    try
    {
      co_await timer.async_wait(asio::redirect_error(use_coroutine, ec));
      log.push_back("resumed normally");
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back("cancelled");
    }
  };
  auto c = coflow::spawn(io, body());
  io.poll();
  io.restart();
  asio::post(io, [&] {
    c.cancel();
    BOOST_TEST(timer.cancel() == 0u); // the terminal emit removed the wait
  });
  io.run();
  BOOST_TEST((log == event_log{"cancelled"}));
  BOOST_TEST(ec == asio::error::operation_aborted);
}

BOOST_FIXTURE_TEST_CASE(as_single_packs_the_arguments, io_fixture)
{
  loopback_pair pair(io);
  using single = std::tuple<boost::system::error_code, std::size_t>;
  std::vector<single> seen;
  auto body = [&]() -> coroutine<void> {
    asio::steady_timer t(io, 1ms);
    co_await t.async_wait(asio::experimental::as_single(use_coroutine));
    std::array<char, 8> buffer{};
    seen.push_back(co_await pair.server.async_read_some(
        asio::buffer(buffer), asio::experimental::as_single(use_coroutine)));
    // An error is part of the value: not thrown.
    seen.push_back(co_await pair.server.async_read_some(
        asio::buffer(buffer), asio::experimental::as_single(use_coroutine)));
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  asio::write(pair.client, asio::buffer(std::string("abc")));
  pair.client.close();
  io.run();
  f.get();
  BOOST_REQUIRE(seen.size() == 2u);
  BOOST_TEST(!std::get<0>(seen[0]));
  BOOST_TEST(std::get<1>(seen[0]) == 3u);
  BOOST_TEST(std::get<0>(seen[1]) == asio::error::eof);
}

BOOST_FIXTURE_TEST_CASE(as_single_cancel_of_the_coroutine, io_fixture)
{
  loopback_pair pair(io);
  event_log log;
  auto body = [&]() -> coroutine<void> {
    std::array<char, 8> buffer{};
    try
    {
      co_await pair.server.async_read_some(
          asio::buffer(buffer), asio::experimental::as_single(use_coroutine));
      log.push_back("resumed normally");
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back("cancelled");
    }
  };
  auto c = coflow::spawn(io, body());
  poll();
  c.cancel();
  io.run(); // returns: the read was cancelled (the peer never writes)
  BOOST_TEST((log == event_log{"cancelled"}));
}

BOOST_FIXTURE_TEST_CASE(as_tuple_values_and_cancel, io_fixture)
{
  asio::steady_timer timer(io, std::chrono::hours(1));
  event_log log;
  auto body = [&]() -> coroutine<void> {
    asio::steady_timer t(io, asio::steady_timer::time_point::min()); // due
    auto [ec] = co_await t.async_wait(asio::as_tuple(use_coroutine));
    log.push_back(ec ? "failed" : "waited");
    try
    {
      co_await timer.async_wait(asio::as_tuple(use_coroutine));
      log.push_back("resumed normally");
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back("cancelled");
    }
  };
  auto c = coflow::spawn(io, body());
  run_until_quiet(); // the short wait is over, the long one pending
  asio::post(io, [&] {
    c.cancel();
    BOOST_TEST(timer.cancel() == 0u);
  });
  io.run();
  BOOST_TEST((log == event_log{"waited", "cancelled"}));
}

BOOST_AUTO_TEST_CASE(bind_cancellation_slot_the_bound_slot_cancels_the_operation)
{
  // The slot cancels the operation, not the coroutine: the body sees the
  // operation's error and goes on.
  asio::io_context io;
  asio::cancellation_signal signal;
  asio::steady_timer timer(io, std::chrono::hours(1));
  event_log log;
  auto body = [&]() -> coroutine<int> {
    asio::steady_timer t(io, asio::steady_timer::time_point::min()); // due
    co_await t.async_wait(asio::bind_cancellation_slot(signal.slot(), use_coroutine));
    log.push_back("waited");
    try
    {
      co_await timer.async_wait(asio::bind_cancellation_slot(signal.slot(), use_coroutine));
      log.push_back("resumed normally");
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back("coroutine cancelled");
    }
    catch (const boost::system::system_error& e)
    {
      if (e.code() == asio::error::operation_aborted)
        log.push_back("operation aborted");
    }
    co_return 7;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  run_until_quiet(io);
  BOOST_TEST((log == event_log{"waited"}));
  signal.emit(asio::cancellation_type::partial); // the type goes through
  io.run();
  BOOST_TEST((log == event_log{"waited", "operation aborted"}));
  BOOST_TEST(f.get() == 7);
}

BOOST_AUTO_TEST_CASE(bind_cancellation_slot_cancel_of_the_coroutine_still_cascades)
{
  // The operation sees one slot that both the bound slot and the
  // coroutine's own cancel reach: binding a slot does not cut the cascade.
  asio::io_context io;
  asio::cancellation_signal signal;
  asio::steady_timer timer(io, std::chrono::hours(1));
  event_log log;
  auto body = [&]() -> coroutine<void> {
    try
    {
      co_await timer.async_wait(asio::bind_cancellation_slot(signal.slot(), use_coroutine));
      log.push_back("resumed normally");
    }
    catch (const coflow::cancelled_error&)
    {
      log.push_back("cancelled");
    }
  };
  auto c = coflow::spawn(io, body());
  io.poll();
  io.restart();
  asio::post(io, [&] {
    c.cancel();
    BOOST_TEST(timer.cancel() == 0u); // the terminal emit removed the wait
  });
  io.run();
  BOOST_TEST((log == event_log{"cancelled"}));
}

BOOST_AUTO_TEST_CASE(adapters_nest)
{
  // redirect_error around bind_cancellation_slot: the slot's cancel lands
  // in ec, nothing is thrown.
  asio::io_context io;
  asio::cancellation_signal signal;
  asio::steady_timer timer(io, std::chrono::hours(1));
  boost::system::error_code ec;
  auto body = [&]() -> coroutine<int> {
    co_await timer.async_wait(asio::redirect_error(
        asio::bind_cancellation_slot(signal.slot(), use_coroutine), ec));
    co_return ec == asio::error::operation_aborted ? 1 : 2;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.poll();
  io.restart();
  signal.emit(asio::cancellation_type::terminal);
  io.run();
  BOOST_TEST(f.get() == 1);
}

/// An allocator that counts what it allocates (and frees) for the operation.
template <class T>
struct counting_allocator
{
  using value_type = T;
  long* allocated;
  long* freed;

  counting_allocator(long* a, long* f) noexcept : allocated(a), freed(f) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& other) noexcept
    : allocated(other.allocated), freed(other.freed)
  {
  }

  T* allocate(std::size_t n)
  {
    ++*allocated;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept
  {
    ++*freed;
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  bool operator==(const counting_allocator<U>& other) const noexcept
  {
    return allocated == other.allocated;
  }
};

BOOST_AUTO_TEST_CASE(bind_allocator_allocates_the_operation_with_it)
{
  asio::io_context io;
  long allocated = 0, freed = 0;
  const counting_allocator<void> alloc(&allocated, &freed);
  auto body = [&]() -> coroutine<int> {
    asio::steady_timer t(io, 1ms);
    co_await t.async_wait(asio::bind_allocator(alloc, use_coroutine));
    co_await asio::post(io, asio::bind_allocator(alloc, use_coroutine));
    // Nested with another adapter.
    boost::system::error_code ec = asio::error::fault;
    t.expires_after(1ms);
    co_await t.async_wait(asio::redirect_error(asio::bind_allocator(alloc, use_coroutine), ec));
    co_return ec ? 0 : 7;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 7);
  BOOST_TEST(allocated >= 3); // each operation's state came from it
  BOOST_TEST(freed == allocated);
}

BOOST_AUTO_TEST_CASE(bind_allocator_cancel_of_the_coroutine_still_cascades)
{
  // The allocator binder passes the coroutine's slot on: a cancel reaches
  // the hour-long wait at once.
  asio::io_context io;
  long allocated = 0, freed = 0;
  asio::steady_timer timer(io, std::chrono::hours(1));
  event_log log;
  auto body = [&]() -> coroutine<void> {
    try
    {
      co_await timer.async_wait(
          asio::bind_allocator(counting_allocator<void>(&allocated, &freed), use_coroutine));
      log.push_back("resumed normally");
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
  io.run(); // returns: the wait was cancelled
  BOOST_TEST((log == event_log{"cancelled"}));
  BOOST_TEST(allocated >= 1);
  BOOST_TEST(freed == allocated);
}

BOOST_AUTO_TEST_SUITE_END()

// Everything a body could await before the catch-all await_transform (which
// turns anything else into one static_assert) still resolves to its own
// overload, in every value category (issue 10, item 21).

BOOST_FIXTURE_TEST_SUITE(accepted_forms, io_fixture)

namespace {

coroutine<int> forty()
{
  co_return 40;
}

asio::awaitable<int> one()
{
  co_return 1;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_accepted_form_in_every_value_category)
{
  coflow::deferred<int> fired(io);
  fired.callback(100);
  auto body = [&]() -> coroutine<int> {
    int sum = 0;
    auto ex = co_await coflow::this_coro::executor;
    const auto& tag = coflow::this_coro::executor;
    auto ex2 = co_await tag;
    sum += ex == ex2 ? 1 : 0;                               // 1

    sum += co_await forty();                                // 41
    coroutine<int> lvalue = coflow::spawn(io, forty());
    sum += co_await lvalue;                                 // 81
    const coroutine<int> const_lvalue = coflow::spawn(io, forty());
    sum += co_await const_lvalue;                           // 121
    coroutine<int> moved = forty();
    sum += co_await std::move(moved);                       // 161

    coflow::deferred<int> d = fired;
    const coflow::deferred<int>& cd = fired;
    sum += co_await d;                                      // 261
    sum += co_await cd;                                     // 361
    sum += co_await std::move(d);                           // 461

    sum += co_await one();                                  // 462
    asio::awaitable<int> named = one();
    sum += co_await std::move(named);                       // 463
    co_await asio::post(io, asio::use_awaitable);

    asio::steady_timer t(io, 1ms);
    auto op = t.async_wait(use_coroutine);
    co_await std::move(op);
    auto deferred_op = asio::post(io, asio::deferred);
    co_await std::move(deferred_op);
    co_await asio::post(io, asio::deferred);
    co_return sum;
  };
  auto f = coflow::spawn(io, body(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 463);
}

BOOST_AUTO_TEST_SUITE_END()
