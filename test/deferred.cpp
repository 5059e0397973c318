//
// test/deferred.cpp: coflow::deferred<T, Executor> (DESIGN.md section 3).
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE deferred
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/deferred.hpp>

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <coflow/unhandled_error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
using coflow_test::io_fixture;
using coflow_test::holds;
using coflow_test::message_of;
using coflow_test::received;
using coflow_test::unhandled_capture;
using coflow::deferred;

BOOST_AUTO_TEST_SUITE(construction)

BOOST_FIXTURE_TEST_CASE(bound_to_executor_or_context, io_fixture)
{
  deferred<int> a(io);
  deferred<int> b(io.get_executor());
  BOOST_TEST((a.get_executor() == asio::any_io_executor(io.get_executor())));
  BOOST_TEST((b.get_executor() == asio::any_io_executor(io.get_executor())));
  BOOST_TEST(!a.called());
  BOOST_TEST(static_cast<bool>(a));

  auto strand = asio::make_strand(io);
  deferred<int, decltype(strand)> s(strand);
  BOOST_TEST((s.get_executor() == strand));
}

BOOST_FIXTURE_TEST_CASE(copies_share_state, io_fixture)
{
  deferred<int> a(io);
  deferred<int> b = a;
  BOOST_TEST((a == b));
  b.callback(3);
  BOOST_TEST(a.called());
  BOOST_TEST(!(a == deferred<int>(io)));
}

BOOST_AUTO_TEST_CASE(empty_handle_throws_logic_error)
{
  deferred<int> d;
  BOOST_TEST(!d);
  BOOST_CHECK_THROW(d.callback(1), std::logic_error);
  BOOST_CHECK_THROW(d.errback(std::make_exception_ptr(std::runtime_error("x"))),
      std::logic_error);
  BOOST_CHECK_THROW(d.called(), std::logic_error);
  BOOST_CHECK_THROW(d.get_executor(), std::logic_error);
  BOOST_CHECK_THROW(d.add_callback([](int x) { return x; }), std::logic_error);
  BOOST_CHECK_THROW(d.add_errback([](std::exception_ptr) { return 0; }),
      std::logic_error);
  BOOST_CHECK_THROW(d.then([](int x) { return x; }), std::logic_error);
  BOOST_CHECK_THROW(d.pause(), std::logic_error);
  BOOST_CHECK_THROW(d.unpause(), std::logic_error);
  BOOST_CHECK_THROW(d.pause_count(), std::logic_error);
  BOOST_CHECK_THROW(d.cancel(), std::logic_error);
  BOOST_CHECK_THROW(d.async_wait([](std::exception_ptr, int) {}), std::logic_error);
  BOOST_CHECK_THROW((void)d.async_wait(asio::deferred), std::logic_error);

  asio::io_context io;
  deferred<void> moved_from(io);
  deferred<void> to = std::move(moved_from);
  BOOST_CHECK_THROW(moved_from.callback(), std::logic_error); // NOLINT
  BOOST_TEST(!to.called());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(firing)

BOOST_FIXTURE_TEST_CASE(callback_twice_throws_already_called, io_fixture)
{
  deferred<int> d(io);
  d.callback(1);
  BOOST_TEST(d.called());
  BOOST_CHECK_THROW(d.callback(2), coflow::already_called_error);
  BOOST_CHECK_THROW(d.errback(std::make_exception_ptr(std::runtime_error("x"))),
      coflow::already_called_error);

  received<int> r;
  d.async_wait(r.handler());
  io.run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(*r.value == 1);
}

BOOST_AUTO_TEST_CASE(errback_then_callback_throws)
{
  unhandled_capture capture;
  asio::io_context io;
  deferred<void> d(io);
  d.add_errback([](std::exception_ptr) {});
  d.errback(std::make_exception_ptr(std::runtime_error("boom")));
  BOOST_CHECK_THROW(d.callback(), coflow::already_called_error);
  BOOST_CHECK_THROW(d.errback(nullptr), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chain)

BOOST_FIXTURE_TEST_CASE(callbacks_run_in_order_and_replace_the_result, io_fixture)
{
  deferred<int> d(io);
  std::vector<std::string> log;
  d.add_callback([&](int x) {
     log.push_back("a" + std::to_string(x));
     return x + 1;
   })
      .add_callback([&](int x) {
        log.push_back("b" + std::to_string(x));
        return x * 10;
      });
  BOOST_TEST(log.empty());
  d.callback(1);
  // Chain callbacks run synchronously inside callback(), as in Twisted.
  BOOST_TEST((log == std::vector<std::string>{"a1", "b2"}));

  // Added after firing: runs at once, on the current result.
  d.add_callback([&](int x) {
    log.push_back("c" + std::to_string(x));
    return x;
  });
  BOOST_TEST(log.back() == "c20");
}

BOOST_FIXTURE_TEST_CASE(throwing_callback_switches_to_error_path, io_fixture)
{
  deferred<int> d(io);
  std::vector<std::string> log;
  d.add_callback([&](int) -> int { throw std::runtime_error("bad"); })
      .add_callback([&](int x) {
        log.push_back("skipped");
        return x;
      })
      .add_errback([&](std::exception_ptr e) {
        log.push_back("eb:" + message_of(e));
        return 7;
      })
      .add_callback([&](int x) {
        log.push_back("after:" + std::to_string(x));
        return x;
      });
  d.callback(1);
  BOOST_TEST((log == std::vector<std::string>{"eb:bad", "after:7"}));
}

BOOST_AUTO_TEST_CASE(errback_rethrow_stays_on_error_path)
{
  unhandled_capture capture;
  asio::io_context io;
  deferred<int> d(io);
  std::vector<std::string> log;
  d.add_errback([&](std::exception_ptr e) -> int {
     log.push_back("first");
     std::rethrow_exception(e);
   })
      .add_callbacks(
          [&](int x) {
            log.push_back("cb");
            return x;
          },
          [&](std::exception_ptr e) -> int {
            log.push_back("second:" + message_of(e));
            throw std::runtime_error("replaced");
          });
  d.errback(std::make_exception_ptr(std::runtime_error("orig")));
  BOOST_TEST((log == std::vector<std::string>{"first", "second:orig"}));

  received<int> r;
  d.async_wait(r.handler());
  io.run();
  BOOST_TEST(message_of(r.error) == "replaced");
}

BOOST_FIXTURE_TEST_CASE(add_both_sees_values_and_errors, io_fixture)
{
  std::vector<std::string> log;
  auto both = [&](auto&& x) -> int {
    if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::exception_ptr>)
    {
      log.push_back("error");
      return -1;
    }
    else
    {
      log.push_back("value");
      return x;
    }
  };
  deferred<int> a(io);
  a.add_both(both);
  a.callback(5);
  deferred<int> b(io);
  b.add_both(both);
  b.errback(std::make_exception_ptr(std::runtime_error("x")));
  BOOST_TEST((log == std::vector<std::string>{"value", "error"}));

  received<int> r;
  b.async_wait(r.handler());
  io.run();
  BOOST_TEST(*r.value == -1);
}

BOOST_FIXTURE_TEST_CASE(void_chain, io_fixture)
{
  deferred<void> d(io);
  int n = 0;
  d.add_callback([&] { ++n; })
      .add_callback([&]() -> void { throw std::runtime_error("x"); })
      .add_errback([&](std::exception_ptr) { n += 10; });
  d.callback();
  BOOST_TEST(n == 11);
  received<void> r;
  d.async_wait(r.handler());
  io.run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(!r.error);
}

BOOST_FIXTURE_TEST_CASE(chaining_waits_for_inner_deferred, io_fixture)
{
  deferred<int> outer(io);
  deferred<int> inner(io);
  std::vector<std::string> log;
  outer
      .add_callback([&](int x) {
        log.push_back("first:" + std::to_string(x));
        return inner;
      })
      .add_callback([&](int x) {
        log.push_back("second:" + std::to_string(x));
        return x + 1;
      });
  received<int> r;
  outer.async_wait(r.handler());

  outer.callback(1);
  BOOST_TEST((log == std::vector<std::string>{"first:1"}));
  run();
  BOOST_TEST(r.calls == 0); // still waiting on inner

  inner.callback(41);
  BOOST_TEST((log == std::vector<std::string>{"first:1", "second:41"}));
  io.run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(*r.value == 42);

  // The inner deferred's own consumers still see its result.
  received<int> ri;
  inner.async_wait(ri.handler());
  io.restart();
  io.run();
  BOOST_TEST(*ri.value == 41);
}

BOOST_FIXTURE_TEST_CASE(chaining_on_fired_inner_continues_at_once, io_fixture)
{
  deferred<int> outer(io);
  deferred<int> inner(io);
  inner.callback(5);
  int seen = 0;
  outer.add_callback([&](int) { return inner; }).add_callback([&](int x) {
    seen = x;
    return x;
  });
  outer.callback(0);
  BOOST_TEST(seen == 5);
}

BOOST_FIXTURE_TEST_CASE(chaining_on_failing_inner_takes_error_path, io_fixture)
{
  deferred<int> outer(io);
  deferred<int> inner(io);
  std::string seen;
  outer.add_callback([&](int) { return inner; })
      .add_errback([&](std::exception_ptr e) {
        seen = message_of(e);
        return 0;
      });
  outer.callback(0);
  inner.errback(std::make_exception_ptr(std::runtime_error("inner failed")));
  BOOST_TEST(seen == "inner failed");
}

BOOST_FIXTURE_TEST_CASE(errback_may_chain_too, io_fixture)
{
  deferred<int> outer(io);
  deferred<int> inner(io);
  outer.add_errback([&](std::exception_ptr) { return inner; });
  received<int> r;
  outer.async_wait(r.handler());
  outer.errback(std::make_exception_ptr(std::runtime_error("x")));
  inner.callback(9);
  io.run();
  BOOST_TEST(*r.value == 9);
}

BOOST_FIXTURE_TEST_CASE(cancel_is_forwarded_to_inner, io_fixture)
{
  bool inner_cancelled = false;
  deferred<int> outer(io);
  deferred<int> inner(io, [&](deferred<int>&) { inner_cancelled = true; });
  outer.add_callback([&](int) { return inner; });
  received<int> r;
  outer.async_wait(r.handler());
  outer.callback(1);
  outer.cancel();
  BOOST_TEST(inner_cancelled);
  BOOST_TEST(inner.called());
  io.run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
}

BOOST_FIXTURE_TEST_CASE(returning_itself_is_an_error, io_fixture)
{
  deferred<int> d(io);
  std::string seen;
  d.add_callback([&](int) { return d; }).add_errback([&](std::exception_ptr e) {
    seen = message_of(e);
    return 0;
  });
  d.callback(1);
  BOOST_TEST(seen.find("it was added to") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(then_changes_type_and_keeps_source, io_fixture)
{
  deferred<int> d(io);
  auto s = d.then([](const int& x) { return std::to_string(x) + "!"; });
  static_assert(std::is_same_v<decltype(s), deferred<std::string>>);
  received<std::string> rs;
  received<int> rd;
  s.async_wait(rs.handler());
  d.async_wait(rd.handler());
  d.callback(3);
  io.run();
  BOOST_TEST(*rs.value == "3!");
  BOOST_TEST(*rd.value == 3);
}

BOOST_FIXTURE_TEST_CASE(then_propagates_errors_and_unwraps_deferreds, io_fixture)
{
  deferred<int> d(io);
  deferred<double> inner(io);
  auto s = d.then([&](int) { return inner; });
  static_assert(std::is_same_v<decltype(s), deferred<double>>);
  auto v = d.then([](int) {});
  static_assert(std::is_same_v<decltype(v), deferred<void>>);
  received<double> rs;
  s.async_wait(rs.handler());
  received<void> rv;
  v.async_wait(rv.handler());
  d.callback(1);
  inner.callback(2.5);
  io.run();
  BOOST_TEST(*rs.value == 2.5);
  BOOST_TEST(rv.calls == 1);
  BOOST_TEST(!rv.error);

  deferred<int> e(io);
  auto t = e.then([](int x) { return x; });
  received<int> rt;
  t.async_wait(rt.handler());
  e.add_errback([](std::exception_ptr) { return 0; });
  e.errback(std::make_exception_ptr(std::runtime_error("E")));
  io.restart();
  io.run();
  BOOST_TEST(message_of(rt.error) == "E");

  deferred<int> f(io);
  auto u = f.then([](int) -> int { throw std::runtime_error("in then"); });
  received<int> ru;
  u.async_wait(ru.handler());
  f.callback(0);
  io.restart();
  io.run();
  BOOST_TEST(message_of(ru.error) == "in then");
}

BOOST_FIXTURE_TEST_CASE(cancelling_then_target_cancels_source, io_fixture)
{
  bool source_cancelled = false;
  deferred<int> d(io, [&](deferred<int>&) { source_cancelled = true; });
  auto s = d.then([](int x) { return x * 2; });
  received<int> r;
  s.async_wait(r.handler());
  s.cancel();
  BOOST_TEST(source_cancelled);
  BOOST_TEST(d.called());
  io.run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(pausing, io_fixture)

BOOST_AUTO_TEST_CASE(result_held_until_last_unpause)
{
  deferred<int> d(io);
  int chain_calls = 0;
  d.add_callback([&](int x) {
    ++chain_calls;
    return x;
  });
  received<int> r;
  d.async_wait(r.handler());

  d.pause();
  d.pause();
  BOOST_TEST(d.pause_count() == 2u);
  d.callback(7); // the producer is not stopped by the pause
  BOOST_TEST(d.called());
  run();
  BOOST_TEST(chain_calls == 0);
  BOOST_TEST(r.calls == 0);

  d.unpause(); // pause x2 / unpause x1: still held
  run();
  BOOST_TEST(chain_calls == 0);
  BOOST_TEST(r.calls == 0);

  d.unpause();
  BOOST_TEST(chain_calls == 1); // the chain runs inside unpause()
  BOOST_TEST(r.calls == 0);     // consumers never do
  io.run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(*r.value == 7);
}

BOOST_AUTO_TEST_CASE(unpause_without_pause_throws_and_changes_nothing)
{
  deferred<int> d(io);
  BOOST_CHECK_THROW(d.unpause(), std::logic_error);
  BOOST_TEST(d.pause_count() == 0u);
  d.pause();
  d.unpause();
  BOOST_CHECK_THROW(d.unpause(), std::logic_error);
  BOOST_TEST(d.pause_count() == 0u);
  // State unchanged: the deferred still works normally.
  received<int> r;
  d.async_wait(r.handler());
  d.callback(1);
  io.run();
  BOOST_TEST(*r.value == 1);
}

BOOST_AUTO_TEST_CASE(pause_after_firing_holds_later_consumers)
{
  deferred<int> d(io);
  d.callback(3);
  d.pause();
  received<int> r;
  d.async_wait(r.handler());
  run();
  BOOST_TEST(r.calls == 0);
  d.unpause();
  io.run();
  BOOST_TEST(r.calls == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cancelling)

BOOST_FIXTURE_TEST_CASE(without_canceller_fails_with_cancelled_error, io_fixture)
{
  deferred<int> d(io);
  received<int> r;
  d.async_wait(r.handler());
  d.cancel();
  BOOST_TEST(d.called());
  BOOST_TEST(r.calls == 0); // never inside cancel()
  io.run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  try
  {
    std::rethrow_exception(r.error);
  }
  catch (const boost::system::system_error& e)
  {
    BOOST_TEST((e.code() == asio::error::operation_aborted));
  }
}

BOOST_FIXTURE_TEST_CASE(canceller_is_called_once_with_the_deferred, io_fixture)
{
  int calls = 0;
  deferred<int> d(io, [&](deferred<int>& self) {
    ++calls;
    BOOST_TEST(!self.called());
  });
  deferred<int> copy = d;
  d.cancel();
  copy.cancel();
  d.cancel();
  BOOST_TEST(calls == 1);
}

BOOST_FIXTURE_TEST_CASE(canceller_may_fire_success, io_fixture)
{
  deferred<std::string> d(io, [](deferred<std::string>& self) {
    self.callback("partial result");
  });
  received<std::string> r;
  d.async_wait(r.handler());
  d.cancel();
  io.run();
  BOOST_TEST(!r.error);
  BOOST_TEST(*r.value == "partial result");
  // The canceller's firing was the one firing: nothing is ignored later.
  BOOST_CHECK_THROW(d.callback("late"), coflow::already_called_error);
}

BOOST_FIXTURE_TEST_CASE(cancel_of_fired_deferred_does_nothing, io_fixture)
{
  int calls = 0;
  deferred<int> d(io, [&](deferred<int>&) { ++calls; });
  d.callback(4);
  d.cancel();
  BOOST_TEST(calls == 0);
  received<int> r;
  d.async_wait(r.handler());
  io.run();
  BOOST_TEST(*r.value == 4);
}

BOOST_FIXTURE_TEST_CASE(after_cancel_next_fire_ignored_then_throws, io_fixture)
{
  deferred<int> d(io);
  d.add_errback([](std::exception_ptr) { return -1; });
  d.cancel();
  BOOST_CHECK_NO_THROW(d.callback(1)); // the producer did not know
  BOOST_CHECK_THROW(d.callback(2), coflow::already_called_error);

  deferred<void> v(io);
  v.add_errback([](std::exception_ptr) {});
  v.cancel();
  BOOST_CHECK_NO_THROW(v.errback(std::make_exception_ptr(std::runtime_error("x"))));
  BOOST_CHECK_THROW(v.callback(), coflow::already_called_error);
}

BOOST_FIXTURE_TEST_CASE(cancel_while_paused_delivers_at_once, io_fixture)
{
  deferred<int> d(io);
  received<int> r;
  d.async_wait(r.handler());
  d.pause();
  d.cancel();
  run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  // The later unpause balances the count without error.
  BOOST_TEST(d.pause_count() == 1u);
  BOOST_CHECK_NO_THROW(d.unpause());
  io.run();
  BOOST_TEST(r.calls == 1);
}

BOOST_FIXTURE_TEST_CASE(cancel_never_drops_a_produced_result, io_fixture)
{
  int canceller_calls = 0;
  deferred<int> d(io, [&](deferred<int>&) { ++canceller_calls; });
  received<int> r;
  d.async_wait(r.handler());
  d.pause();
  d.callback(11);
  d.cancel();
  run();
  BOOST_TEST(canceller_calls == 0);
  BOOST_TEST(r.calls == 0);
  d.unpause();
  io.run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(*r.value == 11);
}

BOOST_FIXTURE_TEST_CASE(canceller_firing_while_paused_is_held, io_fixture)
{
  deferred<int> d(io, [](deferred<int>& self) { self.callback(5); });
  received<int> r;
  d.async_wait(r.handler());
  d.pause();
  d.cancel();
  run();
  BOOST_TEST(r.calls == 0); // a produced result, not the cancel's failure
  d.unpause();
  io.run();
  BOOST_TEST(*r.value == 5);
}

BOOST_AUTO_TEST_CASE(throwing_canceller_is_reported_and_deferred_cancelled)
{
  unhandled_capture capture;
  asio::io_context io;
  deferred<int> d(io, [](deferred<int>&) { throw std::runtime_error("canceller broke"); });
  received<int> r;
  d.async_wait(r.handler());
  BOOST_CHECK_NO_THROW(d.cancel());
  io.run();
  BOOST_TEST(holds<coflow::cancelled_error>(r.error));
  BOOST_TEST((capture.messages == std::vector<std::string>{"canceller broke"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(consumers)

BOOST_FIXTURE_TEST_CASE(resumed_through_executor_never_inside_callback, io_fixture)
{
  deferred<int> d(io);
  received<int> r;
  d.async_wait(r.handler());
  d.callback(1);
  BOOST_TEST(r.calls == 0);
  io.run();
  BOOST_TEST(r.calls == 1);

  // A consumer that arrives after firing is posted too.
  received<int> late;
  d.async_wait(late.handler());
  BOOST_TEST(late.calls == 0);
  io.restart();
  io.run();
  BOOST_TEST(late.calls == 1);
}

BOOST_FIXTURE_TEST_CASE(each_consumer_sees_result_at_its_place, io_fixture)
{
  deferred<int> d(io);
  received<int> first, second, third;
  d.async_wait(first.handler());
  d.add_callback([](int x) { return x * 10; });
  d.async_wait(second.handler());
  d.add_callback([](int) -> int { throw std::runtime_error("late failure"); });
  d.async_wait(third.handler());
  d.callback(2);
  io.run();
  BOOST_TEST(*first.value == 2);
  BOOST_TEST(*second.value == 20);
  BOOST_TEST(message_of(third.error) == "late failure");
  BOOST_TEST(first.calls + second.calls + third.calls == 3);
}

BOOST_FIXTURE_TEST_CASE(move_only_value_goes_to_first_consumer, io_fixture)
{
  deferred<std::unique_ptr<int>> d(io);
  received<std::unique_ptr<int>> a, b;
  d.async_wait(a.handler());
  d.async_wait(b.handler());
  d.callback(std::make_unique<int>(8));
  io.run();
  BOOST_TEST(**a.value == 8);
  BOOST_TEST(holds<std::logic_error>(b.error));
}

BOOST_FIXTURE_TEST_CASE(handler_runs_on_its_associated_executor, io_fixture)
{
  asio::thread_pool pool(1);
  auto strand = asio::make_strand(pool);
  deferred<int> d(io);
  std::promise<bool> in_strand;
  d.async_wait(asio::bind_executor(strand, [&](std::exception_ptr, int) {
    in_strand.set_value(strand.running_in_this_thread());
  }));
  d.callback(1);
  io.run();
  BOOST_TEST(in_strand.get_future().get());
  pool.join();
}

BOOST_FIXTURE_TEST_CASE(consumer_of_a_fired_deferred_is_posted_its_value, io_fixture)
{
  // The consumer of a fired deferred takes no place in the chain: its
  // result is posted at once. A cancel emitted before it runs changes
  // nothing (the deferred has fired), and nothing is left in the slot.
  deferred<int> d(io);
  d.callback(5);
  asio::cancellation_signal signal;
  received<int> r;
  d.async_wait(asio::bind_cancellation_slot(signal.slot(), r.handler()));
  BOOST_TEST(r.calls == 0);
  BOOST_TEST(!signal.slot().has_handler());
  signal.emit(asio::cancellation_type::terminal);
  io.run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(*r.value == 5);

  // A handler bound to another context's executor: through the deferred's
  // executor first, then there.
  asio::io_context other;
  received<int> elsewhere;
  d.async_wait(asio::bind_executor(other.get_executor(), elsewhere.handler()));
  BOOST_TEST(other.poll() == 0u); // not there yet (but counted as its work)
  io.restart();
  io.run();
  BOOST_TEST(elsewhere.calls == 0);
  other.restart();
  other.run();
  BOOST_TEST(elsewhere.calls == 1);
  BOOST_TEST(*elsewhere.value == 5);
}

BOOST_AUTO_TEST_CASE(slot_cancels_for_every_consumer)
{
  for (auto type : {asio::cancellation_type::terminal,
           asio::cancellation_type::partial, asio::cancellation_type::total,
           asio::cancellation_type::all})
  {
    asio::io_context io;
    int canceller_calls = 0;
    deferred<int> d(io, [&](deferred<int>&) { ++canceller_calls; });
    asio::cancellation_signal signal;
    received<int> bound, other;
    d.async_wait(asio::bind_cancellation_slot(signal.slot(), bound.handler()));
    d.async_wait(other.handler());
    // Emitted on the deferred's executor, as Asio emits: the cancel runs at
    // once (from another thread it is dispatched there, see
    // coroutine_executors).
    asio::post(io, [&] {
      signal.emit(type);
      BOOST_TEST(canceller_calls == 1);
    });
    io.run();
    BOOST_TEST(canceller_calls == 1);
    BOOST_TEST(holds<coflow::cancelled_error>(bound.error));
    BOOST_TEST(holds<coflow::cancelled_error>(other.error));
    // The wait is over: the slot was cleared, so a later emit is harmless.
    BOOST_TEST(!signal.slot().has_handler());
    signal.emit(type);
    BOOST_TEST(canceller_calls == 1);
  }
}

BOOST_FIXTURE_TEST_CASE(slot_emit_after_deferred_released_is_harmless, io_fixture)
{
  asio::cancellation_signal signal;
  {
    deferred<int> d(io);
    d.async_wait(asio::bind_cancellation_slot(signal.slot(), [](std::exception_ptr, int) {}));
  } // the waiter is destroyed with the state, without being invoked
  signal.emit(asio::cancellation_type::terminal);
  BOOST_TEST(io.run() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tokens)

BOOST_FIXTURE_TEST_CASE(use_awaitable, io_fixture)
{
  deferred<int> d(io);
  int seen = 0;
  asio::co_spawn(io,
      [&]() -> asio::awaitable<void> {
        // Asio's awaitable handler rethrows a leading exception_ptr.
        seen = co_await d.async_wait(asio::use_awaitable);
        auto [e, again] = co_await d.async_wait(asio::as_tuple(asio::use_awaitable));
        BOOST_TEST(!e);
        seen += again;
      },
      asio::detached);
  asio::post(io, [&] { d.callback(21); });
  io.run();
  BOOST_TEST(seen == 42);
}

BOOST_FIXTURE_TEST_CASE(use_awaitable_error_is_the_exception_ptr, io_fixture)
{
  deferred<void> d(io);
  bool caught = false;
  asio::co_spawn(io,
      [&]() -> asio::awaitable<void> {
        try
        {
          co_await d.async_wait(asio::use_awaitable);
        }
        catch (const std::runtime_error&)
        {
          caught = true;
        }
      },
      asio::detached);
  asio::post(io, [&] { d.errback(std::make_exception_ptr(std::runtime_error("x"))); });
  io.run();
  BOOST_TEST(caught);
}

BOOST_AUTO_TEST_CASE(awaitable_operators_cancel_the_deferred)
{
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  bool cancelled = false;
  deferred<int> d(io, [&](deferred<int>&) { cancelled = true; });
  bool timer_won = false;
  asio::co_spawn(io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(io, std::chrono::milliseconds(1));
        auto r = co_await (d.async_wait(asio::use_awaitable)
            || t.async_wait(asio::use_awaitable));
        timer_won = r.index() == 1;
      },
      asio::detached);
  io.run();
  BOOST_TEST(timer_won);
  BOOST_TEST(cancelled);
  BOOST_TEST(d.called());
}

BOOST_FIXTURE_TEST_CASE(use_future, io_fixture)
{
  deferred<std::string> d(io);
  std::future<std::string> f = d.async_wait(asio::use_future);
  d.callback("future");
  io.run();
  BOOST_TEST(f.get() == "future");

  deferred<int> e(io);
  std::future<int> g = e.async_wait(asio::use_future);
  e.errback(std::make_exception_ptr(std::runtime_error("through future")));
  io.restart();
  io.run();
  BOOST_CHECK_THROW(g.get(), std::runtime_error);
}

BOOST_FIXTURE_TEST_CASE(asio_deferred, io_fixture)
{
  deferred<int> d(io);
  auto op = d.async_wait(asio::deferred);
  d.callback(12);
  received<int> r;
  std::move(op)(r.handler()); // initiated only now: the chain is already fired
  BOOST_TEST(r.calls == 0);
  io.run();
  BOOST_TEST(*r.value == 12);

  deferred<int> e(io);
  auto chained = e.async_wait(asio::deferred([](std::exception_ptr, int v) {
    return asio::deferred.values(v + 1);
  }));
  int seen = 0;
  std::move(chained)([&](int v) { seen = v; });
  e.callback(1);
  io.restart();
  io.run();
  BOOST_TEST(seen == 2);
}

BOOST_FIXTURE_TEST_CASE(detached, io_fixture)
{
  deferred<int> d(io);
  d.async_wait(asio::detached);
  d.errback(std::make_exception_ptr(std::runtime_error("received by detached")));
  unhandled_capture capture;
  io.run();
  d = {};
  BOOST_TEST(capture.messages.empty()); // a consumer received it
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifetime)

namespace {

struct destruction_flag
{
  int* count;
  explicit destruction_flag(int* c) : count(c) {}
  destruction_flag(const destruction_flag&) = delete;
  ~destruction_flag() { ++*count; }
};

} // namespace

BOOST_AUTO_TEST_CASE(context_destruction_destroys_waiting_frames)
{
  int destroyed = 0;
  bool resumed = false;
  {
    asio::io_context io;
    deferred<int> d(io);
    asio::co_spawn(io,
        [&, d]() -> asio::awaitable<void> {
          destruction_flag flag(&destroyed);
          // The frame holds a handle of the deferred it waits on: a cycle
          // that only the context's shutdown breaks.
          co_await d.async_wait(asio::use_awaitable);
          resumed = true;
        },
        asio::detached);
    // co_spawn holds work for the coroutine's lifetime: run() would block.
    io.poll();
    BOOST_TEST(destroyed == 0);
  }
  BOOST_TEST(destroyed == 1);
  BOOST_TEST(!resumed);
}

BOOST_FIXTURE_TEST_CASE(dropping_every_handle_destroys_waiters, io_fixture)
{
  int destroyed = 0;
  {
    deferred<int> d(io);
    auto flag = std::make_shared<destruction_flag>(&destroyed);
    d.async_wait([flag](std::exception_ptr, int) {});
  }
  BOOST_TEST(destroyed == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(throwing_copies)

namespace {

/// A value whose copy constructor throws once a number of copies have
/// succeeded (see failing_copies); moves never throw.
struct fragile
{
  /// Copies that still succeed; below zero: all of them.
  static inline int copies_left = -1;

  int value = 0;

  fragile() = default;
  explicit fragile(int v) : value(v) {}
  fragile(const fragile& other) : value(other.value)
  {
    if (copies_left == 0)
      throw std::runtime_error("copy failed");
    if (copies_left > 0)
      --copies_left;
  }
  fragile(fragile&&) noexcept = default;
  fragile& operator=(const fragile&) = default;
  fragile& operator=(fragile&&) noexcept = default;
};

/// While alive, the first @p succeeding copies of a fragile succeed and
/// the others throw.
struct failing_copies
{
  explicit failing_copies(int succeeding) { fragile::copies_left = succeeding; }
  ~failing_copies() { fragile::copies_left = -1; }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(each_async_wait_consumer_receives_its_failed_copy, io_fixture)
{
  deferred<fragile> d(io);
  received<fragile> a, b;
  d.async_wait(a.handler());
  d.async_wait(b.handler());
  {
    failing_copies only(1); // a's copy succeeds, b's throws
    BOOST_CHECK_NO_THROW(d.callback(fragile(7)));
  }
  io.run();
  BOOST_TEST(a.calls == 1);
  BOOST_TEST(b.calls == 1);
  BOOST_TEST(!a.error);
  BOOST_TEST((a.value && a.value->value == 7));
  BOOST_TEST(message_of(b.error) == "copy failed");

  // Every copy failing: each consumer still gets exactly one delivery, and
  // the chain goes on past the failed ones.
  deferred<fragile> e(io);
  received<fragile> c, f;
  int after = 0;
  e.async_wait(c.handler());
  e.async_wait(f.handler());
  e.add_callback([&](fragile x) {
    after = x.value;
    return x;
  });
  {
    failing_copies none(0);
    BOOST_CHECK_NO_THROW(e.callback(fragile(3)));
  }
  BOOST_TEST(after == 3);
  io.restart();
  io.run();
  BOOST_TEST(c.calls == 1);
  BOOST_TEST(f.calls == 1);
  BOOST_TEST(message_of(c.error) == "copy failed");
  BOOST_TEST(message_of(f.error) == "copy failed");
}

BOOST_FIXTURE_TEST_CASE(each_awaiting_coroutine_receives_its_failed_copy, io_fixture)
{
  deferred<fragile> d(io);
  auto waiter = [](deferred<fragile> x) -> coflow::coroutine<int> {
    fragile f = co_await x;
    co_return f.value;
  };
  auto c1 = coflow::spawn(io, waiter(d));
  auto c2 = coflow::spawn(io, waiter(d));
  io.poll(); // both wait on d
  received<int> r1, r2;
  c1.async_wait(r1.handler());
  c2.async_wait(r2.handler());
  {
    failing_copies only(1); // c1's copy succeeds, c2's throws
    BOOST_CHECK_NO_THROW(d.callback(fragile(5)));
  }
  io.restart();
  io.run();
  BOOST_TEST(r1.calls == 1);
  BOOST_TEST(r2.calls == 1);
  BOOST_TEST(!r1.error);
  BOOST_TEST(r1.value.value_or(-1) == 5);
  BOOST_TEST(message_of(r2.error) == "copy failed");

  // A coroutine awaiting the deferred after it fired copies at once.
  received<int> r3;
  {
    failing_copies none(0);
    auto c3 = coflow::spawn(io, waiter(d));
    c3.async_wait(r3.handler());
    io.restart();
    io.run();
  }
  BOOST_TEST(r3.calls == 1);
  BOOST_TEST(message_of(r3.error) == "copy failed");
}

BOOST_AUTO_TEST_CASE(a_coroutine_consumer_whose_copy_throws_receives_the_exception)
{
  // A child awaited by its parent, with a second consumer: the parent takes
  // the value itself, the second consumer a copy, made as the child ends.
  asio::io_context io;
  deferred<int> gate(io);
  auto producer = [](deferred<int> g) -> coflow::coroutine<fragile> {
    co_await g;
    co_return fragile(9);
  };
  auto parent = [](coflow::coroutine<fragile>& c) -> coflow::coroutine<int> {
    fragile f = co_await c; // an lvalue: copied, the handle keeps its value
    co_return f.value;
  };
  coflow::coroutine<fragile> child = producer(gate);
  auto root = coflow::spawn(io, parent(child));
  io.poll(); // the child runs under its parent, and waits on the gate
  received<fragile> second;
  child.async_wait(second.handler());
  received<int> r;
  root.async_wait(r.handler());
  {
    failing_copies none(0);
    gate.callback(1);
    io.restart();
    io.run();
  }
  BOOST_TEST(second.calls == 1);
  BOOST_TEST(message_of(second.error) == "copy failed");
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(message_of(r.error) == "copy failed"); // the parent's own copy

  // A consumer attached once the coroutine has finished: its copy is made
  // as it attaches, and its failure leaves nothing half built.
  deferred<int> gate2(io);
  coflow::coroutine<fragile> child2 = producer(gate2);
  auto root2 = coflow::spawn(io, parent(child2));
  gate2.callback(2);
  io.restart();
  io.run(); // child2 finished, its value still held by its handle
  {
    failing_copies none(0);
    BOOST_CHECK_THROW(child2.async_wait([](std::exception_ptr, fragile) {}), std::runtime_error);
  }
  received<fragile> later;
  child2.async_wait(later.handler());
  io.restart();
  io.run();
  BOOST_TEST(later.calls == 1);
  BOOST_TEST(!later.error);
  BOOST_TEST((later.value && later.value->value == 9));
}

BOOST_FIXTURE_TEST_CASE(then_taking_a_copy_that_throws_fails_its_target, io_fixture)
{
  deferred<fragile> d(io);
  auto t = d.then([](fragile f) { return f.value; });
  received<int> rt;
  received<fragile> rd;
  t.async_wait(rt.handler());
  d.async_wait(rd.handler());
  {
    failing_copies only(0);
    BOOST_CHECK_NO_THROW(d.callback(fragile(2)));
  }
  io.run();
  BOOST_TEST(rt.calls == 1);
  BOOST_TEST(message_of(rt.error) == "copy failed");
  BOOST_TEST(rd.calls == 1);
  BOOST_TEST(message_of(rd.error) == "copy failed");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cycles)

namespace {

const std::string cycle_message = "coflow: a cycle of deferreds waiting on each other";

bool is_cycle_error(std::exception_ptr e)
{
  return holds<std::logic_error>(e) && message_of(e) == cycle_message;
}

/// A canceller that holds @p canary: the state's destruction releases it.
auto holding(std::shared_ptr<int> canary)
{
  return [canary](deferred<int>&) {};
}

} // namespace

BOOST_FIXTURE_TEST_CASE(two_deferreds_returning_each_other, io_fixture)
{
  auto canary = std::make_shared<int>(0);
  received<int> r1, r2;
  {
    deferred<int> d1(io, holding(canary));
    deferred<int> d2(io, holding(canary));
    d1.add_callback([&](int) { return d2; });
    d2.add_callback([&](int) { return d1; });
    d1.async_wait(r1.handler());
    d2.async_wait(r2.handler());
    d1.callback(1); // d1 waits on d2
    d2.callback(2); // d2 would wait on d1: the cycle is refused
  }
  io.run();
  BOOST_TEST(r1.calls == 1);
  BOOST_TEST(r2.calls == 1);
  BOOST_TEST(is_cycle_error(r2.error));
  BOOST_TEST(is_cycle_error(r1.error)); // d1 received d2's result
  BOOST_TEST(canary.use_count() == 1);  // nothing leaked
}

BOOST_FIXTURE_TEST_CASE(a_longer_cycle, io_fixture)
{
  auto canary = std::make_shared<int>(0);
  std::vector<received<int>> r(4);
  {
    std::vector<deferred<int>> d;
    for (int i = 0; i < 4; ++i)
      d.emplace_back(io, holding(canary));
    for (std::size_t i = 0; i < 4; ++i)
    {
      d[i].add_callback([&d, i](int) { return d[(i + 1) % 4]; });
      d[i].async_wait(r[i].handler());
    }
    for (std::size_t i = 0; i < 4; ++i)
      d[i].callback(0); // the last one closes d0 -> d1 -> d2 -> d3 -> d0
  }
  io.run();
  for (auto& x : r)
  {
    BOOST_TEST(x.calls == 1);
    BOOST_TEST(is_cycle_error(x.error));
  }
  BOOST_TEST(canary.use_count() == 1);
}

BOOST_FIXTURE_TEST_CASE(a_cycle_through_then, io_fixture)
{
  auto canary = std::make_shared<int>(0);
  received<int> rt, r2;
  {
    deferred<int> d1(io, holding(canary));
    deferred<int> d2(io, holding(canary));
    // t's result is d2's, and d2 waits on t.
    deferred<int> t = d1.then([&](const int&) { return d2; });
    d2.add_callback([&](int) { return t; });
    t.async_wait(rt.handler());
    d2.async_wait(r2.handler());
    d2.callback(0); // d2 waits on t, which waits on d1
    d1.callback(0); // t would wait on d2: refused
  }
  io.run();
  BOOST_TEST(rt.calls == 1);
  BOOST_TEST(r2.calls == 1);
  BOOST_TEST(is_cycle_error(rt.error));
  BOOST_TEST(is_cycle_error(r2.error));
  BOOST_TEST(canary.use_count() == 1);
}

BOOST_AUTO_TEST_CASE(a_callback_returning_a_later_then_of_its_own_deferred)
{
  // t would fire from d's chain after the callback that waits on t.
  asio::io_context io;
  auto canary = std::make_shared<int>(0);
  received<int> rd, rt;
  {
    deferred<int> d(io, holding(canary));
    deferred<int> t;
    d.add_callback([&](int) { return t; });
    t = d.then([](const int& x) { return x; });
    d.async_wait(rd.handler());
    t.async_wait(rt.handler());
    d.callback(1);
  }
  io.run();
  BOOST_TEST(rd.calls == 1);
  BOOST_TEST(rt.calls == 1);
  BOOST_TEST(is_cycle_error(rd.error));
  BOOST_TEST(is_cycle_error(rt.error));
  BOOST_TEST(canary.use_count() == 1);
}

BOOST_AUTO_TEST_CASE(shared_inner_deferreds_are_no_cycle)
{
  // d1 and d2 wait on d3, d3 on d4: a tree, not a cycle.
  asio::io_context io;
  deferred<int> d1(io), d2(io), d3(io), d4(io);
  d1.add_callback([&](int) { return d3; });
  d2.add_callback([&](int) { return d3; });
  d3.add_callback([&](int) { return d4; });
  received<int> r1, r2;
  d1.async_wait(r1.handler());
  d2.async_wait(r2.handler());
  d3.callback(0);
  d1.callback(0);
  d2.callback(0);
  d4.callback(8);
  io.run();
  BOOST_TEST(r1.calls == 1);
  BOOST_TEST(r2.calls == 1);
  BOOST_TEST(r1.value.value_or(-1) == 8);
  BOOST_TEST(r2.value.value_or(-1) == 8);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hand_off_order)

BOOST_AUTO_TEST_CASE(the_chain_that_receives_a_result_runs_first)
{
  // Depth first, as nested calls would run them: the outer chain that
  // receives the inner result runs to its end before the inner chain goes
  // on with its next link.
  asio::io_context io;
  deferred<int> outer(io), inner(io);
  std::vector<std::string> log;
  outer.add_callback([&](int) { return inner; });
  outer.callback(0);
  inner.add_callback([&](int x) {
    log.push_back("inner after the hand-off");
    return x;
  });
  outer.add_callback([&](int x) {
    log.push_back("outer");
    return x;
  });
  auto t = inner.then([&](const int& x) {
    log.push_back("then target of inner");
    return x;
  });
  t.add_callback([&](int x) {
    log.push_back("chain of the then target");
    return x;
  });
  inner.callback(1);
  BOOST_TEST((log == std::vector<std::string>{"outer", "inner after the hand-off",
                  "then target of inner", "chain of the then target"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(depth)

// Every cascade runs in constant stack (DESIGN.md "Lifetime and threads"):
// chaining, cancel forwarding, destruction, then() chains, at every depth up
// to 10^6 (10^5 under sanitizers, whose slower allocator would make a 10^6
// chain take most of a minute; 10^4 under valgrind).

namespace {

#if defined(COFLOW_TEST_SANITIZED)
constexpr std::size_t deepest = 100000;
#else
constexpr std::size_t deepest = 1000000;
#endif

std::vector<std::size_t> depths()
{
  const auto bound = static_cast<std::size_t>(coflow_test::scaled_for_valgrind(deepest));
  std::vector<std::size_t> v;
  for (std::size_t n = 1000; n <= bound; n *= 10)
    v.push_back(n);
  return v;
}

/// d[0] waits on d[1], ..., d[n - 1] on d[n], which is unfired: each d[k]'s
/// callback returns d[k + 1]. Built outside-in (d[0] fired first) or
/// inside-out. Every state holds @p canary.
struct chain_of_deferreds
{
  std::vector<deferred<int>> d;

  chain_of_deferreds(asio::io_context& io, std::size_t n, bool inside_out,
      const std::shared_ptr<int>& canary)
  {
    d.reserve(n + 1);
    for (std::size_t k = 0; k <= n; ++k)
      d.emplace_back(io, [canary](deferred<int>&) {});
    for (std::size_t k = 0; k < n; ++k)
      d[k].add_callback([this, k](int) { return d[k + 1]; });
    for (std::size_t i = 0; i < n; ++i)
      d[inside_out ? n - 1 - i : i].callback(0);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(chaining)
{
  // Inside-out, every callback returns a deferred that already waits on a
  // long chain: up to 10^5 shows that the cycle check stays linear in
  // total (a walk to the end of the chain each time would take minutes).
  for (bool inside_out : {false, true})
    for (std::size_t n : depths())
    {
      if (inside_out && n > 100000)
        continue;
      BOOST_TEST_CONTEXT("depth " << n << (inside_out ? " inside-out" : " outside-in"))
      {
        asio::io_context io;
        auto canary = std::make_shared<int>(0);
        received<int> r;
        {
          chain_of_deferreds c(io, n, inside_out, canary);
          c.d[0].async_wait(r.handler());
          c.d[n].callback(42);
          BOOST_TEST(c.d[0].called());
        }
        io.run();
        BOOST_TEST(r.calls == 1);
        BOOST_TEST(r.value.value_or(-1) == 42);
        BOOST_TEST(canary.use_count() == 1);
      }
    }
}

BOOST_AUTO_TEST_CASE(cancel_of_the_outermost)
{
  for (std::size_t n : depths())
  {
    BOOST_TEST_CONTEXT("depth " << n)
    {
      asio::io_context io;
      auto canary = std::make_shared<int>(0);
      received<int> r;
      {
        chain_of_deferreds c(io, n, false, canary);
        c.d[0].async_wait(r.handler());
        c.d[0].cancel(); // forwarded down to d[n], whose failure comes back up
        BOOST_TEST(c.d[n].called());
      }
      io.run();
      BOOST_TEST(r.calls == 1);
      BOOST_TEST(holds<coflow::cancelled_error>(r.error));
      BOOST_TEST(canary.use_count() == 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(dropping_every_handle)
{
  for (std::size_t n : depths())
  {
    BOOST_TEST_CONTEXT("depth " << n)
    {
      asio::io_context io;
      auto canary = std::make_shared<int>(0);
      int invoked = 0;

      // Unfired: each state is held by the link of the one it waits on
      // only; dropping d[n] releases them all.
      {
        chain_of_deferreds c(io, n, false, canary);
        c.d[0].async_wait([&, canary](std::exception_ptr, int) { ++invoked; });
      }
      BOOST_TEST(canary.use_count() == 1);

      // Fired, then dropped.
      received<int> r;
      {
        chain_of_deferreds c(io, n, true, canary);
        c.d[0].async_wait(r.handler());
        c.d[n].callback(1);
      }
      io.run();
      BOOST_TEST(r.calls == 1);
      BOOST_TEST(canary.use_count() == 1);
      BOOST_TEST(invoked == 0);

      // An unfired then() chain: each target is held by its source's link.
      {
        deferred<int> root(io, [canary](deferred<int>&) {});
        deferred<int> t = root;
        for (std::size_t k = 0; k < n; ++k)
          t = t.then([canary](const int& x) { return x + 1; });
      }
      BOOST_TEST(canary.use_count() == 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(then_chain_fired_at_the_root)
{
  // Each function returns a value, or a deferred that has fired already.
  for (bool returns_deferred : {false, true})
    for (std::size_t n : depths())
    {
      BOOST_TEST_CONTEXT("depth " << n << (returns_deferred ? ", fired deferreds" : ""))
      {
        asio::io_context io;
        deferred<int> root(io);
        deferred<int> t = root;
        for (std::size_t k = 0; k < n; ++k)
        {
          if (returns_deferred)
            t = t.then([&io](const int& x) {
              deferred<int> d(io);
              d.callback(x + 1);
              return d;
            });
          else
            t = t.then([](const int& x) { return x + 1; });
        }
        received<int> r;
        t.async_wait(r.handler());
        root.callback(0);
        BOOST_TEST(t.called());
        io.run();
        BOOST_TEST(r.calls == 1);
        BOOST_TEST(r.value.value_or(-1) == static_cast<int>(n));
      }
    }
}

BOOST_AUTO_TEST_CASE(then_chain_cancelled_at_the_leaf)
{
  for (std::size_t n : depths())
  {
    BOOST_TEST_CONTEXT("depth " << n)
    {
      asio::io_context io;
      int root_cancels = 0;
      deferred<int> root(io, [&](deferred<int>&) { ++root_cancels; });
      deferred<int> t = root;
      for (std::size_t k = 0; k < n; ++k)
        t = t.then([](const int& x) { return x + 1; });
      received<int> r;
      t.async_wait(r.handler());
      t.cancel(); // forwarded up to the root, whose failure comes back down
      BOOST_TEST(root_cancels == 1);
      BOOST_TEST(root.called());
      io.run();
      BOOST_TEST(r.calls == 1);
      BOOST_TEST(holds<coflow::cancelled_error>(r.error));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
