//
// test/header_examples.cpp: the example at the top of each public header,
// compiled and run. Each example stands here verbatim between the lines
// `// example: coflow/<header>` and `// end of example` (an example may come
// in parts: functions at namespace scope, then statements in its case), and
// every_header_shows_its_example checks that the header's `@code` block is
// exactly those parts, joined by an empty line.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE header_examples
#include <boost/test/unit_test.hpp>

#include <coflow/coflow.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// example: coflow/coroutine.hpp
coflow::coroutine<int> child(coflow::deferred<int> d)
{
  co_return co_await d + 1;      // suspends until d fires
}

coflow::coroutine<int> parent(coflow::deferred<int> d)
{
  int v = co_await child(d);     // a child: starts inline, on parent's executor
  co_return v * 2;
}
// end of example

// example: coflow/await_tree.hpp
coflow::coroutine<void> worker(asio::steady_timer& timer)
{
  co_await timer.async_wait(coflow::use_coroutine);
}
// end of example
constexpr unsigned worker_await_line = __LINE__ - 3;

// example: coflow/sleep.hpp
coflow::coroutine<int> tick(int n)
{
  for (int i = 0; i < n; ++i)
    co_await coflow::sleep(std::chrono::milliseconds(1));  // pausable, cancellable
  co_return n;
}
// end of example

// example: coflow/join.hpp
coflow::coroutine<int> value_after(std::chrono::milliseconds d, int v)
{
  co_await coflow::sleep(d);
  co_return v;
}

coflow::coroutine<int> both()
{
  auto [a, b] = co_await coflow::join(value_after(2ms, 1), value_after(1ms, 2));  // 2 ms, not 3
  co_return a * 10 + b;
}
// end of example

// example: coflow/gather.hpp
coflow::coroutine<int> fails()
{
  co_await coflow::sleep(1ms);
  throw std::runtime_error("no");
}

coflow::coroutine<std::size_t> count_successes()
{
  std::vector<coflow::coroutine<int>> tries;
  tries.push_back(fails());
  tries.push_back(coflow::spawn(co_await coflow::this_coro::executor, fails()));
  std::size_t ok = 0;
  for (auto& r : co_await coflow::gather(std::move(tries)))
    ok += r.has_value();       // each a boost::system::result<int, std::exception_ptr>
  co_return ok;
}
// end of example

// example: coflow/race.hpp
coflow::coroutine<std::string> reply(std::chrono::milliseconds d, std::string s)
{
  co_await coflow::sleep(d);
  co_return s;
}

coflow::coroutine<std::string> fastest()
{
  auto winner = co_await coflow::race(reply(1h, "slow"), reply(1ms, "fast"));
  co_return std::get<1>(winner);   // the index tells the winner; the loser is gone
}
// end of example

// example: coflow/timeout.hpp
coflow::coroutine<int> slow()
{
  co_await coflow::sleep(1h);
  co_return 1;
}

coflow::coroutine<int> bounded()
{
  try
  {
    co_return co_await coflow::timeout(1ms, slow());   // slow() is cancelled at 1 ms
  }
  catch (const coflow::timeout_error&)                 // not a cancel from above
  {
    co_return -1;
  }
}
// end of example

// example: coflow/shield.hpp
coflow::coroutine<void> close_gracefully(int& closed)
{
  co_await coflow::sleep(1ms);     // a goodbye message, a flush...
  ++closed;
}

coflow::coroutine<void> session(int& closed)
{
  bool cancelled = false;
  try
  {
    co_await coflow::sleep(1h);    // serving
  }
  catch (const coflow::cancelled_error&)
  {
    cancelled = true;              // no co_await inside a handler
  }
  if (cancelled)
    co_await coflow::shield(coflow::timeout(2s, close_gracefully(closed)));
}                                  // the result stays cancelled_error
// end of example

// example: coflow/task_group.hpp
coflow::coroutine<void> serve(int id, std::vector<int>& served)
{
  co_await coflow::sleep(1ms);     // a session
  served.push_back(id);
}

coflow::coroutine<void> accept_three(std::vector<int>& served)
{
  co_await coflow::with_task_group([&](coflow::task_group& g) -> coflow::coroutine<void> {
    for (int id = 0; id < 3; ++id)
      g.spawn(serve(id, served));  // runs alongside; the group waits for it
    co_return;
  });                              // every session has finished here
}
// end of example

// example: coflow/spawn.hpp
coflow::coroutine<int> answer()
{
  co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
  co_return 42;
}
// end of example

// example: coflow/tail_call.hpp
coflow::coroutine<long> count_down(long n, long hops)
{
  if (n == 0)
    co_return hops;
  // This frame goes; count_down(n - 1, ...) takes its place.
  co_return co_await coflow::tail_call(count_down(n - 1, hops + 1));
}
// end of example

// example: coflow/this_coro.hpp
coflow::coroutine<int> later(int v)
{
  auto ex = co_await coflow::this_coro::executor;  // its own; never suspends
  asio::steady_timer timer(ex, std::chrono::milliseconds(1));
  co_await timer.async_wait(coflow::use_coroutine);
  co_return v;
}
// end of example

// example: coflow/use_coroutine.hpp
coflow::coroutine<int> wait_on(asio::steady_timer& timer)
{
  // Throws boost::system::system_error on an error; pause and cancel of the
  // coroutine reach the wait.
  co_await timer.async_wait(coflow::use_coroutine);
  co_return 1;
}
// end of example

// example: coflow/coflow.hpp
coflow::coroutine<int> after(asio::steady_timer& timer, int v)
{
  co_await timer.async_wait(coflow::use_coroutine);
  co_return v;
}
// end of example

// --- the check that the headers show these examples -----------------------

/// The directory of this source file.
std::filesystem::path source_dir()
{
  return std::filesystem::path(__FILE__).parent_path();
}

std::vector<std::string> lines_of(const std::filesystem::path& file)
{
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

/// The `@code` block of @p header's opening comment, without the "// ".
std::string example_in_header(const std::filesystem::path& header)
{
  std::string text;
  bool inside = false;
  for (const auto& line : lines_of(header))
  {
    if (line.rfind("//", 0) != 0)
      break; // the end of the opening comment
    const std::string body = line.size() > 3 ? line.substr(3) : std::string();
    if (body == "@code")
      inside = true;
    else if (body == "@endcode")
      return text;
    else if (inside)
      text += body + "\n";
  }
  return inside ? "(no @endcode)" : std::string();
}

/// Every example of this file, by header name: its parts dedented by the
/// indentation of their `// example:` line and joined by an empty line.
std::map<std::string, std::string> examples_here()
{
  const std::string begin = "// example: coflow/", end = "// end of example";
  std::map<std::string, std::string> examples;
  std::string* current = nullptr;
  std::size_t indent = 0;
  for (const auto& line : lines_of(source_dir() / "header_examples.cpp"))
  {
    const auto first = line.find_first_not_of(' ');
    const std::string trimmed = first == std::string::npos ? "" : line.substr(first);
    if (trimmed.rfind(begin, 0) == 0)
    {
      current = &examples[trimmed.substr(begin.size())];
      if (!current->empty())
        *current += "\n";
      indent = first;
    }
    else if (trimmed == end)
      current = nullptr;
    else if (current)
      *current += (line.size() > indent ? line.substr(indent) : std::string()) + "\n";
  }
  return examples;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_header_shows_its_example)
{
  const auto include_dir = source_dir() / ".." / "include" / "coflow";
  BOOST_REQUIRE_MESSAGE(std::filesystem::is_directory(include_dir),
      include_dir << " not found: run from the build tree of this checkout");
  const auto examples = examples_here();
  std::size_t headers = 0;
  for (const auto& entry : std::filesystem::directory_iterator(include_dir))
  {
    if (entry.path().extension() != ".hpp")
      continue;
    ++headers;
    const std::string name = entry.path().filename().string();
    const std::string shown = example_in_header(entry.path());
    BOOST_TEST_CONTEXT("coflow/" << name)
    {
      BOOST_TEST(!shown.empty(), "the header opens with a @code example");
      const auto here = examples.find(name);
      BOOST_TEST_REQUIRE((here != examples.end()), "this file has its example");
      BOOST_TEST(shown == here->second);
    }
  }
  BOOST_TEST(headers == examples.size()); // no example of a header that is gone
}

BOOST_AUTO_TEST_CASE(coroutine_hpp)
{
  // example: coflow/coroutine.hpp
  asio::io_context io;
  coflow::deferred<int> d(io);
  coflow::coroutine<int> c = coflow::spawn(io, parent(d));
  std::future<int> f = c.async_wait(asio::use_future);
  asio::post(io, [&] {   // by now parent -> child -> waits on d
    c.pause();           // cascades down to d
    d.callback(20);      // held by the pause
  });
  asio::post(io, [&] { c.unpause(); });  // released: f.get() == 42
  io.run();
  // end of example
  BOOST_TEST(f.get() == 42);
}

BOOST_AUTO_TEST_CASE(deferred_hpp)
{
  // example: coflow/deferred.hpp
  asio::io_context io;
  coflow::deferred<int> d(io);
  d.add_callback([](int v) { return v * 2; });          // the callback chain
  d.add_errback([](std::exception_ptr) { return -1; });  // recovers from errors
  int got = 0;
  d.async_wait([&](std::exception_ptr, int v) { got = v; });  // or any Asio token
  d.callback(21);        // fires it, once; the consumer runs through io
  io.run();              // got == 42
  // end of example
  BOOST_TEST(got == 42);
}

BOOST_AUTO_TEST_CASE(error_hpp)
{
  // example: coflow/error.hpp
  asio::io_context io;
  coflow::deferred<int> d(io);
  std::future<int> f = d.async_wait(asio::use_future);
  d.cancel();                                    // no canceller: d fails
  io.run();
  boost::system::error_code code;
  try
  {
    f.get();
  }
  catch (const boost::system::system_error& e)   // a coflow::cancelled_error
  {
    code = e.code();                             // asio::error::operation_aborted
  }
  // end of example
  BOOST_TEST((code == asio::error::operation_aborted));
}

BOOST_AUTO_TEST_CASE(await_tree_hpp)
{
  // example: coflow/await_tree.hpp
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::hours(1));
  coflow::coroutine<void> c = coflow::spawn(io, worker(timer));
  io.poll();                                  // worker suspends on the timer
  c.pause();
  std::string text = coflow::to_string(coflow::await_tree(c));
  // worker [paused] at <this file>:<the co_await's line>
  // └─ operation void (boost::system::error_code)
  std::size_t roots = coflow::await_forest(io).size();  // 1
  c.cancel();
  io.run();
  // end of example
  BOOST_TEST(text
      == "worker [paused] at header_examples.cpp:" + std::to_string(worker_await_line)
          + "\n\u2514\u2500 operation void (boost::system::error_code)\n");
  BOOST_TEST(roots == 1u);
  BOOST_TEST(coflow::await_forest(io).empty());
}

BOOST_AUTO_TEST_CASE(sleep_hpp)
{
  const auto start = std::chrono::steady_clock::now();
  // example: coflow/sleep.hpp
  asio::io_context io;
  auto f = coflow::spawn(io, tick(3), asio::use_future);
  io.run();              // f.get() == 3, after 3 ms at least
  // end of example
  BOOST_TEST(f.get() == 3);
  BOOST_TEST((std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(3)));
}

BOOST_AUTO_TEST_CASE(join_hpp)
{
  // example: coflow/join.hpp
  asio::io_context io;
  auto f = coflow::spawn(io, both(), asio::use_future);
  io.run();              // f.get() == 12
  // end of example
  BOOST_TEST(f.get() == 12);
}

BOOST_AUTO_TEST_CASE(gather_hpp)
{
  int reported = 0;
  auto previous = coflow::set_unhandled_error_handler([&](std::exception_ptr) { ++reported; });
  // example: coflow/gather.hpp
  asio::io_context io;
  auto f = coflow::spawn(io, count_successes(), asio::use_future);
  io.run();              // f.get() == 0, and no error was reported as unhandled
  // end of example
  BOOST_TEST(f.get() == 0u);
  BOOST_TEST(reported == 0);
  coflow::set_unhandled_error_handler(previous);
}

BOOST_AUTO_TEST_CASE(race_hpp)
{
  const auto start = std::chrono::steady_clock::now();
  // example: coflow/race.hpp
  asio::io_context io;
  auto f = coflow::spawn(io, fastest(), asio::use_future);
  io.run();              // f.get() == "fast", after 1 ms, not 1 h
  // end of example
  BOOST_TEST(f.get() == "fast");
  BOOST_TEST((std::chrono::steady_clock::now() - start < std::chrono::minutes(10)));
}

BOOST_AUTO_TEST_CASE(timeout_hpp)
{
  // example: coflow/timeout.hpp
  asio::io_context io;
  auto f = coflow::spawn(io, bounded(), asio::use_future);
  io.run();              // f.get() == -1, after 1 ms
  // end of example
  BOOST_TEST(f.get() == -1);
}

BOOST_AUTO_TEST_CASE(shield_hpp)
{
  // example: coflow/shield.hpp
  asio::io_context io;
  int closed = 0;
  auto s = coflow::spawn(io, session(closed));
  asio::post(io, [&] { s.cancel(); });
  io.run();              // closed == 1; s failed with cancelled_error
  // end of example
  BOOST_TEST(closed == 1);
  BOOST_TEST(s.called());
  bool cancelled = false;
  s.async_wait([&](std::exception_ptr e) {
    try
    {
      std::rethrow_exception(e);
    }
    catch (const coflow::cancelled_error&)
    {
      cancelled = true;
    }
  });
  io.restart();
  io.run();
  BOOST_TEST(cancelled);
}

BOOST_AUTO_TEST_CASE(task_group_hpp)
{
  // example: coflow/task_group.hpp
  asio::io_context io;
  std::vector<int> served;
  auto c = coflow::spawn(io, accept_three(served));
  io.run();              // served holds 0, 1 and 2; c.pause() or c.cancel()
                         // would have reached every session
  // end of example
  BOOST_TEST(served.size() == 3u);
  BOOST_TEST(c.called());
}

BOOST_AUTO_TEST_CASE(spawn_hpp)
{
  // example: coflow/spawn.hpp
  asio::io_context io;
  coflow::coroutine<int> c = coflow::spawn(io, answer());              // a handle
  std::future<int> f = coflow::spawn(io, answer(), asio::use_future);  // a token
  coflow::spawn(io, answer(), asio::detached);                   // fire and forget
  coflow::spawn(io, [] { return answer(); }, asio::detached);    // a callable
  io.run();              // nothing runs before: the starts are posted
  // end of example
  BOOST_TEST(c.called());
  BOOST_TEST(f.get() == 42);
}

BOOST_AUTO_TEST_CASE(tail_call_hpp)
{
  // example: coflow/tail_call.hpp
  asio::io_context io;
  auto f = coflow::spawn(io, count_down(100'000, 0), asio::use_future);
  io.run();              // f.get() == 100'000, in the memory of two frames
  // end of example
  BOOST_TEST(f.get() == 100'000);
}

BOOST_AUTO_TEST_CASE(this_coro_hpp)
{
  // example: coflow/this_coro.hpp
  asio::io_context io;
  auto f = coflow::spawn(asio::make_strand(io), later(7), asio::use_future);
  io.run();              // f.get() == 7
  // end of example
  BOOST_TEST(f.get() == 7);
}

BOOST_AUTO_TEST_CASE(unhandled_error_hpp)
{
  // example: coflow/unhandled_error.hpp
  std::vector<std::string> lost;
  auto previous = coflow::set_unhandled_error_handler([&](std::exception_ptr e) {
    try
    {
      std::rethrow_exception(e);
    }
    catch (const std::exception& x)
    {
      lost.push_back(x.what());
    }
  });
  {
    asio::io_context io;
    coflow::deferred<int> d(io);
    d.errback(std::make_exception_ptr(std::runtime_error("nobody listened")));
  }                      // d's last handle goes: its error is reported
  coflow::set_unhandled_error_handler(previous);  // lost == {"nobody listened"}
  // end of example
  BOOST_TEST((lost == std::vector<std::string>{"nobody listened"}));
}

BOOST_AUTO_TEST_CASE(use_coroutine_hpp)
{
  // example: coflow/use_coroutine.hpp
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::hours(1));
  coflow::coroutine<int> c = coflow::spawn(io, wait_on(timer));
  asio::post(io, [&] { c.cancel(); });  // reaches the timer's wait
  io.run();              // at once: c failed with coflow::cancelled_error
  // end of example
  BOOST_TEST(c.called());
  io.restart();
  auto f = c.async_wait(asio::use_future);
  io.run();
  BOOST_CHECK_THROW(f.get(), coflow::cancelled_error);
}

BOOST_AUTO_TEST_CASE(use_deferred_hpp)
{
  // example: coflow/use_deferred.hpp
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::milliseconds(1));
  coflow::deferred<void> fired = timer.async_wait(coflow::use_deferred);
  bool done = false;
  fired.add_callback([&] { done = true; });  // or co_await it, or async_wait
  io.run();              // done == true
  // end of example
  BOOST_TEST(done);
}

BOOST_AUTO_TEST_CASE(coflow_hpp)
{
  const auto start = std::chrono::steady_clock::now();
  // example: coflow/coflow.hpp
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::milliseconds(1));
  coflow::coroutine<int> c = coflow::spawn(io, after(timer, 42));
  c.pause();                                     // holds it...
  asio::steady_timer release(io, std::chrono::milliseconds(5));
  release.async_wait([&](auto) { c.unpause(); });  // ...until 5 ms
  std::future<int> f = c.async_wait(asio::use_future);
  io.run();              // f.get() == 42, not before 5 ms
  // end of example
  BOOST_TEST(f.get() == 42);
  BOOST_TEST((std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(5)));
}
