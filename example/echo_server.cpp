//
// example/echo_server.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// A TCP echo server on 127.0.0.1 whose connections live in a task_group of
// the listener, and its own load generator in the same program:
//
// - busy clients send messages of varying sizes and check every echoed byte;
// - idle clients stay connected until the server stops;
// - then the program raises SIGTERM at itself (SIGINT, Ctrl-C, does the
//   same): the signal cancels the server's root coroutine, the cancel
//   reaches the acceptor and every connection through the group, and each
//   connection, having caught the cancel, says goodbye and closes inside
//   `shield(timeout(...))`: an await that the cancel does not stop, bounded
//   in time. The idle clients check that they received the goodbye.
//
// SIGUSR1 (`kill -USR1 <pid>`) prints the await forest to stderr: every
// coroutine of the server and what it waits on (doc/introspection.md). The
// load generator raises it once itself, when the idle clients are connected.
//
// Usage: echo_server [--scale S]   (S multiplies the number of clients and
// messages; default 1)
//

#include <coflow/coflow.hpp>
#ifndef COFLOW_NO_INTROSPECTION
#include <coflow/await_tree.hpp>
#endif

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct figures
{
  long messages = 0;
  long bytes_checked = 0;
  long mismatches = 0;
  int graceful_closes = 0;
  int goodbyes_received = 0;
  int idle_ready = 0;
};

// --- the server ---------------------------------------------------------------

/// Says goodbye, then closes the sending side.
coflow::coroutine<void> goodbye(tcp::socket& socket)
{
  static const char bye[] = "bye\n";
  co_await asio::async_write(socket, asio::buffer(bye, 4), coflow::use_coroutine);
  socket.shutdown(tcp::socket::shutdown_send);
}

/// Echoes until the peer closes, or until cancelled: then a graceful close.
coflow::coroutine<void> session(tcp::socket socket, figures& f)
{
  char data[4096];
  bool cancelled = false;
  try
  {
    for (;;)
    {
      std::size_t n = co_await socket.async_read_some(asio::buffer(data), coflow::use_coroutine);
      co_await asio::async_write(socket, asio::buffer(data, n), coflow::use_coroutine);
    }
  }
  catch (const coflow::cancelled_error&)
  {
    cancelled = true; // C++ forbids co_await in a handler: the close follows
  }
  catch (const boost::system::system_error& e)
  {
    if (e.code() != asio::error::eof)
      throw;
  }
  if (cancelled)
  {
    co_await coflow::shield(coflow::timeout(2s, goodbye(socket)));
    ++f.graceful_closes;
  }
}

/// Accepts connections into a group: the group's cancel reaches them all.
coflow::coroutine<void> serve(tcp::acceptor& acceptor, figures& f)
{
  co_await coflow::with_task_group([&](coflow::task_group& group) -> coflow::coroutine<void> {
    for (;;)
    {
      tcp::socket socket = co_await acceptor.async_accept(coflow::use_coroutine);
      group.spawn(session(std::move(socket), f));
    }
  });
}

// --- introspection -------------------------------------------------------------

/// Prints the await forest of @p io to std::cerr at every SIGUSR1 that
/// @p signal receives, until @p signal is cancelled. The handler runs on
/// io's thread, the coroutines' executor, where await_forest() is taken.
void dump_forest_on(asio::signal_set& signal, asio::io_context& io)
{
  signal.async_wait([&signal, &io](boost::system::error_code ec, int) {
    if (ec)
      return; // cancelled: the server has stopped
#ifndef COFLOW_NO_INTROSPECTION
    std::cerr << "echo_server: SIGUSR1: what every coroutine waits on:\n"
              << coflow::to_string(coflow::await_forest(io)) << std::flush;
#else
    std::cerr << "echo_server: SIGUSR1: introspection is compiled out" << std::endl;
#endif
    dump_forest_on(signal, io);
  });
}

// --- the load generator --------------------------------------------------------

/// Sends @p messages messages and checks each echoed byte.
coflow::coroutine<void> busy_client(tcp::endpoint server, int id, int messages, figures& f)
{
  tcp::socket socket(co_await coflow::this_coro::executor);
  co_await socket.async_connect(server, coflow::use_coroutine);
  std::string out, in;
  for (int m = 0; m < messages; ++m)
  {
    const std::size_t size = 1 + static_cast<std::size_t>(id * 131 + m * 977) % 3000;
    out.resize(size);
    for (std::size_t i = 0; i < size; ++i)
      out[i] = static_cast<char>('a' + (id + m + i) % 26);
    in.assign(size, '\0');
    co_await asio::async_write(socket, asio::buffer(out), coflow::use_coroutine);
    co_await asio::async_read(socket, asio::buffer(in), coflow::use_coroutine);
    ++f.messages;
    f.bytes_checked += static_cast<long>(size);
    f.mismatches += in != out;
  }
}

/// Stays connected until the server says goodbye.
coflow::coroutine<void> idle_client(tcp::endpoint server, int idle, coflow::deferred<void> all_ready,
    figures& f)
{
  tcp::socket socket(co_await coflow::this_coro::executor);
  co_await socket.async_connect(server, coflow::use_coroutine);
  char hello[6] = "hello", echo[5];
  co_await asio::async_write(socket, asio::buffer(hello, 5), coflow::use_coroutine);
  co_await asio::async_read(socket, asio::buffer(echo), coflow::use_coroutine);
  if (++f.idle_ready == idle)
    all_ready.callback(); // every connection is in the server's group
  std::string rest;
  auto [ec, n] = co_await asio::async_read(socket, asio::dynamic_buffer(rest),
      asio::as_tuple(coflow::use_coroutine)); // until the server closes
  (void)n;
  if (ec == asio::error::eof && rest == "bye\n")
    ++f.goodbyes_received;
}

} // namespace

int main(int argc, char** argv)
{
  double scale = 1.0;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--scale")
      scale = std::atof(argv[i + 1]);
  const int busy = std::max(2, static_cast<int>(50 * scale));
  const int messages = std::max(2, static_cast<int>(200 * scale));
  const int idle = std::max(2, static_cast<int>(5 * scale));

  asio::io_context io;
  figures f;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const tcp::endpoint endpoint = acceptor.local_endpoint();

  // SIGINT or SIGTERM cancels the server: the cascade does the rest.
  auto server = coflow::spawn(io, serve(acceptor, f));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec)
      return;
    std::cout << "echo_server: " << (signal == SIGTERM ? "SIGTERM" : "SIGINT")
              << ": cancelling the server" << std::endl;
    server.cancel();
  });
  // SIGUSR1 dumps the await forest; it stops listening with the server.
  asio::signal_set dump_signal(io, SIGUSR1);
  dump_forest_on(dump_signal, io);
  bool server_cancelled = false;
  server.async_wait([&](std::exception_ptr e) {
    try
    {
      if (e)
        std::rethrow_exception(e);
    }
    catch (const coflow::cancelled_error&)
    {
      server_cancelled = true;
    }
    catch (const std::exception& x)
    {
      std::cout << "echo_server: the server failed: " << x.what() << std::endl;
    }
    signals.cancel();
    dump_signal.cancel();
  });

  auto load = [&]() -> coflow::coroutine<void> {
    auto ex = co_await coflow::this_coro::executor;
    coflow::deferred<void> all_ready(ex);
    std::vector<coflow::coroutine<void>> idlers;
    for (int i = 0; i < idle; ++i)
      idlers.push_back(idle_client(endpoint, idle, all_ready, f));
    auto waiting = coflow::spawn(ex, coflow::join(std::move(idlers)));
    std::vector<coflow::coroutine<void>> clients;
    for (int i = 0; i < busy; ++i)
      clients.push_back(busy_client(endpoint, i, messages, f));
    co_await coflow::join(std::move(clients));
    std::cout << "echo_server: " << busy << " clients sent " << f.messages << " messages, "
              << f.bytes_checked << " bytes echoed and checked, " << f.mismatches
              << " mismatches" << std::endl;
    co_await all_ready;
    std::raise(SIGUSR1); // as `kill -USR1` would: the forest shows the idle sessions
    std::raise(SIGTERM); // as `kill -TERM` would
    co_await waiting;
  };
  auto generator = coflow::spawn(io, load(), asio::use_future);
  io.run();
  generator.get(); // rethrows the load generator's failure, if any

  std::cout << "echo_server: " << f.graceful_closes << " connections closed gracefully, "
            << f.goodbyes_received << " of " << idle << " idle clients received the goodbye"
            << std::endl;
  const bool ok = f.mismatches == 0 && f.messages == static_cast<long>(busy) * messages
      && server_cancelled && f.graceful_closes == idle && f.goodbyes_received == idle;
  std::cout << "echo_server: " << (ok ? "done" : "FAILED") << std::endl;
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
