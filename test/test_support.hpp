//
// test/test_support.hpp: small helpers shared by the test suites.
//

#ifndef COFLOW_TEST_SUPPORT_HPP
#define COFLOW_TEST_SUPPORT_HPP

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <sys/resource.h>

#include <coflow/unhandled_error.hpp>

#include <exception>
#include <string>
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

/// Captures what reaches the unhandled-error handler while alive.
struct unhandled_capture
{
  std::vector<std::string> messages;
  coflow::unhandled_error_handler previous;

  unhandled_capture()
  {
    previous = coflow::set_unhandled_error_handler([this](std::exception_ptr e) {
      try
      {
        std::rethrow_exception(e);
      }
      catch (const std::exception& x)
      {
        messages.push_back(x.what());
      }
    });
  }

  unhandled_capture(const unhandled_capture&) = delete;
  unhandled_capture& operator=(const unhandled_capture&) = delete;

  ~unhandled_capture() { coflow::set_unhandled_error_handler(previous); }
};

} // namespace coflow_test

#endif // COFLOW_TEST_SUPPORT_HPP
