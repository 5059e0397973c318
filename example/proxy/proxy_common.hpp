//
// example/proxy/proxy_common.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// What the two proxies (coflow_proxy.cpp and its asio::awaitable twin,
// asio_proxy.cpp) share and what is not the subject of their comparison:
// the command line, the counters and the peak memory they report, an
// upstream connection and exchange, and the small responses a proxy makes
// itself.
//

#ifndef COFLOW_EXAMPLE_PROXY_COMMON_HPP
#define COFLOW_EXAMPLE_PROXY_COMMON_HPP

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstddef>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace proxy {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using std::chrono::milliseconds;

/// The command line.
struct options
{
  tcp::endpoint listen{asio::ip::address_v4::loopback(), 0};
  tcp::endpoint admin{asio::ip::address_v4::loopback(), 0};
  std::vector<tcp::endpoint> upstreams;
  milliseconds upstream_timeout{5000}; // to the upstream's response header: else 504
  milliseconds request_timeout{30000}; // a whole exchange; bounds a graceful shutdown
  milliseconds hedge{0};               // ask a second upstream after this; 0: never
  std::size_t buffer = 256 * 1024;     // body bytes held per response
};

/// "127.0.0.1:8080", or a port alone (on 127.0.0.1).
inline tcp::endpoint parse_endpoint(const std::string& s)
{
  const auto colon = s.rfind(':');
  if (colon == std::string::npos)
    return {asio::ip::address_v4::loopback(), static_cast<unsigned short>(std::stoul(s))};
  return {asio::ip::make_address(s.substr(0, colon)),
      static_cast<unsigned short>(std::stoul(s.substr(colon + 1)))};
}

/// Parses the command line; prints the help (and returns nothing) for
/// --help or a mistake. @p admin: whether the program has an admin port.
inline std::optional<options> parse_options(int argc, char** argv, std::string_view name, bool admin)
{
  options o;
  bool ok = true, help = false;
  for (int i = 1; i < argc && ok; ++i)
  {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    try
    {
      if (arg == "--help")
        help = true;
      else if (!has_value)
        ok = false;
      else if (arg == "--listen")
        o.listen = parse_endpoint(argv[++i]);
      else if (arg == "--admin" && admin)
        o.admin = parse_endpoint(argv[++i]);
      else if (arg == "--upstream")
        o.upstreams.push_back(parse_endpoint(argv[++i]));
      else if (arg == "--upstream-timeout-ms")
        o.upstream_timeout = milliseconds(std::stol(argv[++i]));
      else if (arg == "--request-timeout-ms")
        o.request_timeout = milliseconds(std::stol(argv[++i]));
      else if (arg == "--hedge-ms")
        o.hedge = milliseconds(std::stol(argv[++i]));
      else if (arg == "--buffer-kib")
        o.buffer = std::stoul(argv[++i]) * 1024;
      else
        ok = false;
    }
    catch (const std::exception&)
    {
      ok = false;
    }
  }
  if (!help && ok && !o.upstreams.empty())
    return o;
  std::cout << "usage: " << name << " --upstream HOST:PORT [--upstream HOST:PORT ...] [options]\n"
            << "An HTTP/1.1 reverse proxy with keep-alive; requests go round-robin to the upstreams.\n"
            << "  --listen HOST:PORT          where clients connect (default 127.0.0.1:0, any port)\n";
  if (admin)
    std::cout << "  --admin HOST:PORT           the admin endpoints (default 127.0.0.1:0):\n"
              << "                              GET /admin/tree, GET /admin/stats,\n"
              << "                              POST /admin/pause, POST /admin/resume\n";
  std::cout << "  --upstream-timeout-ms MS    time to the upstream's response header, else 504 (5000)\n"
            << "  --request-timeout-ms MS     a whole exchange; bounds a graceful shutdown (30000)\n"
            << "  --hedge-ms MS               ask a second upstream after MS; the first answer wins (off)\n"
            << "  --buffer-kib KIB            body bytes held per response (256)\n"
            << "SIGINT or SIGTERM: stops accepting, finishes the requests in flight, exits 0.\n";
  if (!help)
    std::exit(2);
  return std::nullopt;
}

/// What a proxy counts; printed by GET /admin/stats and at exit.
struct counters
{
  long connections = 0;
  long requests = 0;
  long bad_requests = 0;           // 400
  long bad_gateway = 0;            // 502: no upstream connection or no header
  long gateway_timeouts = 0;       // 504
  long aborted = 0;                // a response broken off: the client connection closed
  long hedged = 0;                 // a second upstream asked
  long upstream_cancelled = 0;     // upstream exchanges cancelled (a hedge's loser)
  long initiated_while_paused = 0; // operations started between pause and resume
  std::size_t peak_buffered = 0;   // body bytes held by one response, at most
  bool paused = false;

  std::string line() const
  {
    std::ostringstream s;
    s << "connections=" << connections << " requests=" << requests << " bad_requests=" << bad_requests
      << " bad_gateway=" << bad_gateway << " gateway_timeouts=" << gateway_timeouts
      << " aborted=" << aborted << " hedged=" << hedged << " upstream_cancelled=" << upstream_cancelled
      << " initiated_while_paused=" << initiated_while_paused << " peak_buffered=" << peak_buffered
      << " paused=" << paused << " peak_rss_kib=" << peak_rss_kib();
    return s.str();
  }

  /// The process's peak resident set (VmHWM), in KiB.
  static long peak_rss_kib()
  {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
      if (line.starts_with("VmHWM:"))
        return std::stol(line.substr(6));
    return -1;
  }
};

/// A connection to an upstream, kept open between requests.
struct upstream_link
{
  upstream_link(const asio::any_io_executor& ex, std::size_t i) : socket(ex), upstream(i) {}

  tcp::socket socket;
  boost::beast::flat_buffer buffer;
  std::size_t upstream;
};

/// An upstream's response whose header has arrived.
struct exchange
{
  std::shared_ptr<upstream_link> up;
  std::shared_ptr<http::response_parser<http::buffer_body>> parser;
};

/// The body bytes still to come, as far as @p parser knows (at least 1).
template <class Parser>
std::size_t remaining(const Parser& parser)
{
  return std::max<std::size_t>(1, parser.content_length_remaining().value_or(64 * 1024));
}

/// A response the proxy makes itself: @p status with a one-line body.
inline http::response<http::string_body> make_response(
    http::status status, unsigned version, bool keep_alive, std::string body = {})
{
  http::response<http::string_body> res(status, version);
  res.body() = body.empty() ? std::string(http::obsolete_reason(status)) + "\n" : std::move(body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

} // namespace proxy

#endif // COFLOW_EXAMPLE_PROXY_COMMON_HPP
