//
// example/proxy/upstream.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The upstream servers of the proxy's tests and demos: one process listening
// on --count ports of 127.0.0.1, each an HTTP/1.1 server with keep-alive.
// Every response carries `X-Upstream: <index>` (0 for the first port). Targets:
//
//   /bytes/N           N bytes of body, written in 64 KiB pieces
//   /delay/MS          a short body after MS milliseconds (prints a line
//                      "upstream N delays TARGET" when the request arrives)
//   /slow-on-first/MS  as /delay/MS on upstream 0, at once on the others
//   /reset/N           announces 2N bytes, sends N, then resets the connection
//   /status/CODE       an empty response with that status
//   anything else      a short body naming the upstream and the target
//
// Usage: upstream [--count N] [--port P]   (P: the first port, 0 = any)
// Prints one line per port, "upstream <index> listening on 127.0.0.1:<port>",
// then serves until SIGINT or SIGTERM.
//

#include <coflow/coflow.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace {

/// The number after @p prefix in @p target, or -1 if @p target has another form.
long number_after(std::string_view target, std::string_view prefix)
{
  if (!target.starts_with(prefix))
    return -1;
  long n = -1;
  auto [end, ec] = std::from_chars(target.data() + prefix.size(), target.data() + target.size(), n);
  return ec == std::errc() && end == target.data() + target.size() ? n : -1;
}

/// Writes a response whose header announces @p announced bytes of body, then
/// @p sent bytes of 'x' in pieces.
coflow::coroutine<void> write_bytes(tcp::socket& s, http::response<http::empty_body> res,
    std::size_t announced, std::size_t sent)
{
  res.content_length(announced);
  http::response_serializer<http::empty_body> head(res);
  co_await http::async_write_header(s, head, coflow::use_coroutine);
  const std::string piece(64 * 1024, 'x');
  for (std::size_t done = 0; done < sent;)
  {
    const std::size_t n = std::min(piece.size(), sent - done);
    co_await asio::async_write(s, asio::buffer(piece, n), coflow::use_coroutine);
    done += n;
  }
}

/// Serves one connection until the peer closes it or a request says close.
coflow::coroutine<void> connection(tcp::socket s, int index)
{
  boost::beast::flat_buffer buffer;
  s.set_option(tcp::no_delay(true));
  try
  {
    for (;;)
    {
      http::request<http::string_body> req;
      co_await http::async_read(s, buffer, req, coflow::use_coroutine);
      const std::string_view target = req.target();
      http::response<http::empty_body> head(http::status::ok, req.version());
      head.set("X-Upstream", std::to_string(index));
      head.keep_alive(req.keep_alive());
      long n = 0;
      if ((n = number_after(target, "/bytes/")) >= 0)
        co_await write_bytes(s, std::move(head), n, n);
      else if ((n = number_after(target, "/reset/")) >= 0)
      {
        co_await write_bytes(s, std::move(head), 2 * n, n);
        s.set_option(asio::socket_base::linger(true, 0)); // close() now resets
        s.close();
        co_return;
      }
      else if ((n = number_after(target, "/status/")) >= 100 && n <= 999)
      {
        head.result(static_cast<unsigned>(n));
        co_await write_bytes(s, std::move(head), 0, 0);
      }
      else
      {
        if ((n = number_after(target, "/delay/")) > 0
            || (index == 0 && (n = number_after(target, "/slow-on-first/")) > 0))
        {
          // A line for whoever waits for the request to be here (the tests).
          std::cout << "upstream " << index << " delays " << target << std::endl;
          co_await coflow::sleep(std::chrono::milliseconds(n));
        }
        http::response<http::string_body> res(std::move(head));
        res.body() = "upstream " + std::to_string(index) + ": " + std::string(target) + "\n";
        res.prepare_payload();
        co_await http::async_write(s, res, coflow::use_coroutine);
      }
      if (!req.keep_alive())
        break;
    }
    s.shutdown(tcp::socket::shutdown_send);
  }
  catch (const boost::system::system_error&)
  {
    // The client closed, reset or sent garbage: this connection ends.
  }
}

/// Accepts connections into a group until cancelled.
coflow::coroutine<void> serve(tcp::acceptor& acceptor, int index)
{
  co_await coflow::with_task_group([&](coflow::task_group& group) -> coflow::coroutine<void> {
    for (;;)
      group.spawn(connection(co_await acceptor.async_accept(coflow::use_coroutine), index));
  });
}

} // namespace

int main(int argc, char** argv)
{
  int count = 1;
  unsigned short port = 0;
  for (int i = 1; i < argc; ++i)
  {
    const std::string arg = argv[i];
    if (arg == "--count" && i + 1 < argc)
      count = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--port" && i + 1 < argc)
      port = static_cast<unsigned short>(std::atoi(argv[++i]));
    else
    {
      std::cout << "usage: upstream [--count N] [--port P]\n"
                   "  N HTTP/1.1 servers on 127.0.0.1, ports P, P+1, ... (P = 0: any port)\n";
      return arg == "--help" ? EXIT_SUCCESS : EXIT_FAILURE;
    }
  }

  asio::io_context io;
  std::vector<tcp::acceptor> acceptors;
  std::vector<coflow::coroutine<void>> servers;
  for (int i = 0; i < count; ++i)
  {
    const auto p = static_cast<unsigned short>(port == 0 ? 0 : port + i);
    acceptors.emplace_back(io, tcp::endpoint(asio::ip::address_v4::loopback(), p));
    std::cout << "upstream " << i << " listening on 127.0.0.1:" << acceptors.back().local_endpoint().port()
              << std::endl;
  }
  for (int i = 0; i < count; ++i)
    servers.push_back(coflow::spawn(io, serve(acceptors[static_cast<std::size_t>(i)], i)));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec)
      for (auto& s : servers)
        s.cancel();
  });
  io.run();
  return EXIT_SUCCESS;
}
