//
// test/test_support.hpp: what the test suites share: an io_context fixture,
// recorders of results and unhandled errors, and small helpers.
//
// A suite whose cases each start with their own io_context uses the fixture:
//
//   BOOST_FIXTURE_TEST_SUITE(cancelling, coflow_test::io_fixture)
//   BOOST_AUTO_TEST_CASE(a_case)
//   {
//     coflow::deferred<int> d(io);          // the fixture's io_context
//     coflow_test::received<int> r;
//     d.async_wait(r.handler());
//     d.cancel();
//     poll();                               // ready handlers, then restart
//     BOOST_TEST(coflow_test::holds<coflow::cancelled_error>(r.error));
//   }
//   BOOST_AUTO_TEST_SUITE_END()
//
// The fixture's io_context is built before the case's locals and destroyed
// after them, as a first local `asio::io_context io;` would be.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#ifndef COFLOW_TEST_SUPPORT_HPP
#define COFLOW_TEST_SUPPORT_HPP

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <sys/resource.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define COFLOW_TEST_ON_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define COFLOW_TEST_ON_VALGRIND() false
#endif

#include <coflow/unhandled_error.hpp>
#include <coflow/use_coroutine.hpp>

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Sanitizers own malloc and keep freed memory in quarantine: memory figures
// (RSS, malloc counts) say nothing in those builds.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COFLOW_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define COFLOW_TEST_SANITIZED 1
#endif
#endif

// LeakSanitizer comes with AddressSanitizer: a test that asks it for a leak
// check includes <sanitizer/lsan_interface.h> when this is defined.
#if defined(__SANITIZE_ADDRESS__)
#define COFLOW_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COFLOW_TEST_LSAN 1
#endif
#endif

namespace coflow_test {

#if defined(COFLOW_TEST_SANITIZED)
inline constexpr bool memory_figures_are_meaningful = false;
#else
inline constexpr bool memory_figures_are_meaningful = true;
#endif

/// The process's peak resident set size, in KiB.
inline long peak_rss_kib()
{
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

/// Whether this process runs under valgrind (the test command's valgrind
/// stage), which checks every memory access, at some 40 times the native
/// time.
inline bool on_valgrind() noexcept
{
  return COFLOW_TEST_ON_VALGRIND();
}

/// The length of a deep test's chain: @p n, or n / 100 under valgrind.
/// There, 10^3 to 10^4 levels still take every path of a cascade (the
/// nesting bound is 32); the depth itself, where a recursion would overflow
/// the stack, is checked natively and under ASan.
inline long scaled_for_valgrind(long n) noexcept
{
  return on_valgrind() ? n / 100 : n;
}

/// Whether @p e holds an exception of type E (or derived).
template <class E>
bool holds(std::exception_ptr e)
{
  if (!e)
    return false;
  try
  {
    std::rethrow_exception(e);
  }
  catch (const E&)
  {
    return true;
  }
  catch (...)
  {
    return false;
  }
}

/// The what() of the exception that @p e holds: "" for none, "(not a
/// std::exception)" for another type. Allocates nothing (alloc_failure
/// calls it while allocations fail).
inline const char* what_of(const std::exception_ptr& e) noexcept
{
  if (!e)
    return "";
  try
  {
    std::rethrow_exception(e);
  }
  catch (const std::exception& x)
  {
    return x.what();
  }
  catch (...)
  {
    return "(not a std::exception)";
  }
}

/// what_of() as a string, to compare and concatenate.
inline std::string message_of(const std::exception_ptr& e)
{
  return what_of(e);
}

/// Runs ready handlers until none is left, without blocking: the reactor
/// sees loopback readiness and expired timers at once.
inline void run_until_quiet(boost::asio::io_context& io)
{
  for (int quiet = 0, rounds = 0; quiet < 2 && rounds < 100000; ++rounds)
  {
    quiet = io.poll() == 0 ? quiet + 1 : 0;
    io.restart();
  }
}

/// Two connected TCP sockets on 127.0.0.1.
struct loopback_pair
{
  boost::asio::ip::tcp::acceptor acceptor;
  boost::asio::ip::tcp::socket client;
  boost::asio::ip::tcp::socket server;

  explicit loopback_pair(boost::asio::io_context& io)
    : acceptor(io, boost::asio::ip::tcp::endpoint(
                       boost::asio::ip::address_v4::loopback(), 0)),
      client(io),
      server(io)
  {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

/// Installs @p handler as the unhandled-error handler while alive, and puts
/// back the one it replaced when it goes.
class unhandled_error_guard
{
public:
  explicit unhandled_error_guard(coflow::unhandled_error_handler handler)
    : previous_(coflow::set_unhandled_error_handler(std::move(handler)))
  {
  }

  unhandled_error_guard(const unhandled_error_guard&) = delete;
  unhandled_error_guard& operator=(const unhandled_error_guard&) = delete;

  ~unhandled_error_guard() { coflow::set_unhandled_error_handler(std::move(previous_)); }

  /// The handler this guard replaced (empty: the default one).
  const coflow::unhandled_error_handler& previous() const noexcept { return previous_; }

private:
  coflow::unhandled_error_handler previous_;
};

/// Collects what reaches the unhandled-error handler while alive.
struct unhandled_capture
{
  std::vector<std::exception_ptr> errors;
  /// message_of() of each of errors, in the same order.
  std::vector<std::string> messages;

private:
  // Declared last: it goes first, before the vectors it writes to.
  unhandled_error_guard guard_{[this](std::exception_ptr e) {
    messages.push_back(message_of(e));
    errors.push_back(std::move(e));
  }};
};

/// A consumer that records what it received: `d.async_wait(r.handler())`.
template <class T>
struct received
{
  int calls = 0;
  std::exception_ptr error;
  std::optional<T> value; ///< set only when the result is a value

  auto handler()
  {
    return [this](std::exception_ptr e, T v) {
      ++calls;
      error = e;
      if (!e)
        value = std::move(v);
    };
  }
};

template <>
struct received<void>
{
  int calls = 0;
  std::exception_ptr error;

  auto handler()
  {
    return [this](std::exception_ptr e) {
      ++calls;
      error = e;
    };
  }
};

/// What a test saw happen, in order.
using event_log = std::vector<std::string>;

/// Logs "<name> cleanup" when destroyed: a frame's unwinding, observable.
struct cleanup
{
  event_log& log;
  std::string name;
  ~cleanup() { log.push_back(name + " cleanup"); }
};

/// A test case's io_context (see the top of this file).
struct io_fixture
{
  boost::asio::io_context io;

  /// Runs the handlers that are ready, without blocking, and restarts the
  /// context for the next run. @returns how many ran.
  std::size_t poll()
  {
    const std::size_t n = io.poll();
    io.restart();
    return n;
  }

  /// Runs until the context has no work left, and restarts it.
  /// @returns how many handlers ran.
  std::size_t run()
  {
    const std::size_t n = io.run();
    io.restart();
    return n;
  }

  /// coflow_test::run_until_quiet(io).
  void run_until_quiet() { coflow_test::run_until_quiet(io); }
};

/// A handler an operation keeps, to call or drop when a test says.
using stored_handler =
    boost::asio::any_completion_handler<void(boost::system::error_code)>;

/// An operation, awaited with coflow::use_coroutine, whose initiation hands
/// its handler to @p slot, then runs @p then (which may call or drop it,
/// or another one: inside the hand-over).
template <class Then>
auto hand_to(std::optional<stored_handler>& slot, Then then)
{
  return boost::asio::async_initiate<const coflow::use_coroutine_t&,
      void(boost::system::error_code)>(
      [&slot, then](auto handler) {
        slot.emplace(std::move(handler));
        then();
      },
      coflow::use_coroutine);
}

} // namespace coflow_test

#endif // COFLOW_TEST_SUPPORT_HPP
