//
// test/use_deferred.cpp: the coflow::use_deferred completion token.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE use_deferred
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/use_deferred.hpp>

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
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
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow_test::holds;
using coflow_test::loopback_pair;
using coflow_test::run_until_quiet;
using coflow_test::cleanup;
using coflow_test::event_log;
using coflow_test::received;
using coflow_test::unhandled_capture;
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

/// An operation that completes when the test says so. It holds its handler,
/// records what its cancellation slot emits and otherwise ignores the cancel
/// (or, if told to, completes inside it, with operation_aborted).
struct held_operation
{
  using signature = void(error_code, int);

  explicit held_operation(asio::io_context& context) : io(context) {}

  asio::io_context& io;
  std::optional<asio::any_completion_handler<signature>> handler;
  std::vector<asio::cancellation_type_t> emitted;
  bool complete_inside_cancel = false;

  struct initiation
  {
    using executor_type = asio::io_context::executor_type;
    held_operation* self;

    executor_type get_executor() const noexcept { return self->io.get_executor(); }

    template <class Handler>
    void operator()(Handler&& h) const
    {
      auto slot = asio::get_associated_cancellation_slot(h);
      self->handler.emplace(std::forward<Handler>(h));
      if (slot.is_connected())
        slot.assign([s = self](asio::cancellation_type_t type) {
          s->emitted.push_back(type);
          if (s->complete_inside_cancel)
            s->complete(asio::error::operation_aborted, 0);
        });
    }
  };

  template <class Token>
  auto async_run(Token&& token)
  {
    return asio::async_initiate<Token, signature>(initiation{this}, token);
  }

  /// Invokes the held handler (as the operation completing).
  void complete(error_code ec, int value)
  {
    auto h = std::move(*handler);
    handler.reset();
    std::move(h)(ec, value);
  }

  /// Destroys the held handler without invoking it.
  void drop() { handler.reset(); }
};

/// A service that keeps handlers and destroys them, uncalled, at its
/// shutdown (as Asio's services do with pending operations).
struct handler_keeper : asio::execution_context::service
{
  static inline asio::execution_context::id id;

  explicit handler_keeper(asio::execution_context& context) : service(context) {}

  void shutdown() override { handlers.clear(); }

  std::vector<asio::any_completion_handler<void(error_code, int)>> handlers;
};

/// Starts an operation that only the shutdown of handler_keeper ends.
struct initiate_kept
{
  using executor_type = asio::io_context::executor_type;
  asio::io_context* io;

  executor_type get_executor() const noexcept { return io->get_executor(); }

  template <class Handler>
  void operator()(Handler&& h) const
  {
    asio::use_service<handler_keeper>(*io).handlers.emplace_back(std::forward<Handler>(h));
  }
};

struct destruction_counter
{
  int* count;
  explicit destruction_counter(int* c) : count(c) {}
  destruction_counter(const destruction_counter&) = delete;
  ~destruction_counter() { ++*count; }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(signatures, io_fixture)

BOOST_AUTO_TEST_CASE(mapping_to_value_types)
{
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
  auto d = async_complete_with<void(std::exception_ptr)>(
      io, use_deferred, std::make_exception_ptr(std::runtime_error("op failed")));
  bool seen = false;
  d.async_wait([&](std::exception_ptr e) { seen = holds<std::runtime_error>(e); });
  io.run();
  BOOST_TEST(seen);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(timers, io_fixture)

BOOST_AUTO_TEST_CASE(bound_to_the_io_executor)
{
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
  asio::steady_timer timer(io, std::chrono::hours(1));
  auto d = timer.async_wait(use_deferred);
  std::exception_ptr seen;
  d.async_wait([&](std::exception_ptr e) { seen = e; });
  d.cancel();
  // The emit reached the operation: the timer has no pending wait left.
  BOOST_TEST(timer.cancel() == 0u);
  // The deferred fails when the operation has completed, not before.
  BOOST_TEST(!d.called());
  // run() returns (with an hour to go it would block otherwise): the
  // aborted wait completes, and its completion fails the deferred with
  // cancelled_error (its operation_aborted is discarded).
  io.run();
  BOOST_TEST(d.called());
  BOOST_TEST(holds<coflow::cancelled_error>(seen));
  BOOST_CHECK_NO_THROW(d.cancel());
}

BOOST_AUTO_TEST_CASE(as_default_on)
{
  auto timer = coflow::use_deferred_t::as_default_on(
      asio::steady_timer(io, std::chrono::milliseconds(1)));
  deferred<void> d = timer.async_wait();
  bool fired = false;
  d.async_wait([&](std::exception_ptr e) { fired = !e; });
  io.run();
  BOOST_TEST(fired);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(sockets, io_fixture)

BOOST_AUTO_TEST_CASE(read_on_loopback)
{
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

BOOST_FIXTURE_TEST_SUITE(interop, io_fixture)

BOOST_AUTO_TEST_CASE(co_spawn_into_a_deferred)
{
  auto d = asio::co_spawn(io, []() -> asio::awaitable<int> { co_return 42; }, use_deferred);
  static_assert(std::is_same_v<decltype(d), deferred<int>>);
  int seen = 0;
  d.async_wait([&](std::exception_ptr, int v) { seen = v; });
  io.run();
  BOOST_TEST(seen == 42);
}

BOOST_AUTO_TEST_CASE(cancelling_the_deferred_cancels_the_awaitable)
{
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

// DESIGN.md section 3: cancel() emits terminal on the operation's slot; the
// deferred fails with cancelled_error once the operation has completed
// (whatever it completed with), never before: the operation may use its
// buffers until then.
BOOST_AUTO_TEST_SUITE(cancel_waits_for_the_operation)

BOOST_FIXTURE_TEST_CASE(fails_when_the_operation_completes, io_fixture)
{
  held_operation op(io);
  deferred<int> d = op.async_run(use_deferred);
  received<int> r;
  d.async_wait(r.handler());
  d.cancel();
  BOOST_TEST(op.emitted.size() == 1u);
  BOOST_TEST((op.emitted.at(0) == asio::cancellation_type::terminal));
  BOOST_TEST(!d.called()); // the operation still runs
  run_until_quiet();
  BOOST_TEST(r.calls == 0);

  d.cancel(); // idempotent: nothing is emitted again
  BOOST_TEST(op.emitted.size() == 1u);
  run_until_quiet();
  BOOST_TEST(r.calls == 0);

  // A success that ignored the cancel is discarded all the same.
  op.complete(error_code(), 42);
  BOOST_TEST(d.called());
  BOOST_TEST(r.calls == 0); // never inside the operation's handler
  run_until_quiet();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_CHECK_THROW(d.callback(1), coflow::already_called_error);
}

BOOST_FIXTURE_TEST_CASE(the_failure_overrides_a_pause, io_fixture)
{
  held_operation op(io);
  deferred<int> d = op.async_run(use_deferred);
  received<int> r;
  d.async_wait(r.handler());
  d.pause();
  d.cancel();
  run_until_quiet();
  BOOST_TEST(r.calls == 0);
  d.pause(); // a pause meanwhile changes nothing either
  op.complete(asio::error::operation_aborted, 0);
  run_until_quiet();
  BOOST_TEST(r.calls == 1); // delivered despite the pause
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST(d.pause_count() == 2u);
  BOOST_CHECK_NO_THROW(d.unpause());
  BOOST_CHECK_NO_THROW(d.unpause());
  run_until_quiet();
  BOOST_TEST(r.calls == 1);
}

BOOST_AUTO_TEST_CASE(a_completion_inside_the_cancel_is_discarded_too)
{
  unhandled_capture capture;
  asio::io_context io;
  held_operation op(io);
  op.complete_inside_cancel = true;
  deferred<int> d = op.async_run(use_deferred);
  received<int> r;
  d.async_wait(r.handler());
  d.cancel(); // the operation completes inside the emit, with operation_aborted
  BOOST_TEST(!op.handler);
  BOOST_TEST(d.called());
  run_until_quiet(io);
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error)); // not its system_error
  BOOST_TEST(capture.messages.empty());
}

BOOST_FIXTURE_TEST_CASE(firing_by_hand_while_the_cancel_waits, io_fixture)
{
  held_operation op(io);
  deferred<int> d = op.async_run(use_deferred);
  received<int> r;
  d.async_wait(r.handler());
  d.cancel();
  // As after any cancel: the next firing is ignored (its producer did not
  // know), a further one throws.
  BOOST_CHECK_NO_THROW(d.callback(5));
  BOOST_CHECK_THROW(d.callback(6), coflow::already_called_error);
  run_until_quiet();
  BOOST_TEST(r.calls == 0);
  op.complete(error_code(), 7);
  run_until_quiet();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
}

BOOST_FIXTURE_TEST_CASE(a_then_deferred_waits_too, io_fixture)
{
  held_operation op(io);
  deferred<int> d = op.async_run(use_deferred);
  deferred<std::string> t = d.then([](int x) { return std::to_string(x); });
  std::exception_ptr seen;
  int calls = 0;
  t.async_wait([&](std::exception_ptr e, std::string) { ++calls, seen = e; });
  t.pause();
  t.cancel(); // reaches the operation through d
  BOOST_TEST(op.emitted.size() == 1u);
  BOOST_TEST(!t.called());
  BOOST_TEST(!d.called());
  run_until_quiet();
  BOOST_TEST(calls == 0);
  op.complete(error_code(), 3);
  run_until_quiet();
  BOOST_TEST(calls == 1); // despite t's pause
  BOOST_TEST(holds<coflow::cancelled_error>(seen));
}

BOOST_FIXTURE_TEST_CASE(a_dropped_handler_after_a_cancel_fails_the_deferred, io_fixture)
{
  held_operation op(io);
  deferred<int> d = op.async_run(use_deferred);
  received<int> r;
  d.async_wait(r.handler());
  d.cancel();
  run_until_quiet();
  BOOST_TEST(r.calls == 0);
  op.drop(); // outside the context's shutdown: the operation is over
  BOOST_TEST(r.calls == 0);
  run_until_quiet();
  BOOST_TEST(d.called());
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
}

BOOST_FIXTURE_TEST_CASE(a_dropped_handler_without_a_cancel_changes_nothing, io_fixture)
{
  held_operation op(io);
  deferred<int> d = op.async_run(use_deferred);
  received<int> r;
  d.async_wait(r.handler());
  op.drop();
  run_until_quiet();
  BOOST_TEST(!d.called()); // as before: nothing fires it
  BOOST_TEST(r.calls == 0);
  d.cancel(); // no operation left to wait for: fails at once
  BOOST_TEST(d.called());
  BOOST_TEST(op.emitted.size() == 1u);
  run_until_quiet();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
}

BOOST_AUTO_TEST_CASE(context_shutdown_while_the_cancel_waits)
{
  // The operation ignores the cancel and its service keeps the handler: the
  // context's shutdown destroys it without calling it, and nothing else is
  // called; the waiting frame and consumer are destroyed. Both orders of
  // the services' shutdown: the operation's service made before the waiter
  // registry (it shuts down after it), and after (it shuts down first).
  for (bool service_first : {true, false})
  {
    event_log log;
    int consumer_destroyed = 0;
    {
      asio::io_context io;
      if (service_first)
        (void)asio::use_service<handler_keeper>(io);
      deferred<int> other(io); // a consumer that waits builds the registry
      other.async_wait([](std::exception_ptr, int) {});
      if (!service_first)
        (void)asio::use_service<handler_keeper>(io);
      deferred<int> d = asio::async_initiate<const coflow::use_deferred_t,
          void(error_code, int)>(initiate_kept{&io}, use_deferred);
      auto f = std::make_shared<destruction_counter>(&consumer_destroyed);
      d.async_wait([&log, f](std::exception_ptr, int) { log.push_back("consumer"); });
      f.reset();
      auto body = [&]() -> coflow::coroutine<int> {
        cleanup c{log, "body"};
        co_return co_await d;
      };
      auto c = coflow::spawn(io, body());
      run_until_quiet(io);
      d.cancel();
      run_until_quiet(io);
      BOOST_TEST(!d.called());
      BOOST_TEST(log.empty());
      BOOST_TEST(consumer_destroyed == 0);
    }
    BOOST_TEST((log == event_log{"body cleanup"})); // destroyed, not resumed
    BOOST_TEST(consumer_destroyed == 1);
  }
}

BOOST_FIXTURE_TEST_CASE(a_cancelled_coroutine_waits_for_the_operation, io_fixture)
{
  held_operation op(io);
  event_log log;
  char* buffer_in_frame = nullptr;
  auto body = [&]() -> coflow::coroutine<int> {
    std::array<char, 16> buffer{}; // the operation's memory, in the frame
    buffer_in_frame = buffer.data();
    cleanup c{log, "body"};
    co_return co_await op.async_run(use_deferred);
  };
  auto c = coflow::spawn(io, body());
  c.async_wait([&](std::exception_ptr e, int) {
    log.push_back(holds<coflow::cancelled_error>(e) ? "consumer: cancelled" : "consumer: ?");
  });
  run_until_quiet();
  BOOST_TEST(op.handler.has_value());
  c.cancel();
  BOOST_TEST(op.emitted.size() == 1u); // forwarded to the operation
  run_until_quiet();
  // The operation ignores the cancel for now: the body must not unwind.
  BOOST_TEST(log.empty());
  if (log.empty())
    buffer_in_frame[0] = 'x'; // the operation still writes into the frame
  log.push_back("operation completes");
  op.complete(error_code(), 16);
  run_until_quiet();
  BOOST_TEST((log == event_log{"operation completes", "body cleanup", "consumer: cancelled"}));
}

BOOST_FIXTURE_TEST_CASE(a_cancelled_coroutine_waits_for_a_timer, io_fixture)
{
  asio::steady_timer timer(io, std::chrono::hours(1));
  event_log log;
  deferred<void> wait = timer.async_wait(use_deferred);
  auto body = [&]() -> coflow::coroutine<void> {
    cleanup c{log, "body"};
    co_await wait;
  };
  auto c = coflow::spawn(io, body());
  run_until_quiet();
  c.cancel();
  BOOST_TEST(!wait.called()); // until the aborted wait has completed
  io.run();
  BOOST_TEST(wait.called());
  BOOST_TEST((log == event_log{"body cleanup"}));
  BOOST_TEST(c.called());
}

BOOST_AUTO_TEST_SUITE_END()
