//
// example/deferred_tour.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// A tour of coflow::deferred: a canceller, a paused timer result, and a
// pending socket read on 127.0.0.1 cancelled through its deferred.
//
// Usage: deferred_tour [--scale S]   (S multiplies every delay; default 1)
//

#include <coflow/coflow.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

double scale = 1.0;

std::chrono::steady_clock::duration scaled(std::chrono::milliseconds d)
{
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d * scale);
}

std::string describe(std::exception_ptr error)
{
  try
  {
    std::rethrow_exception(error);
  }
  catch (const coflow::cancelled_error&)
  {
    return "cancelled";
  }
  catch (const std::exception& e)
  {
    return e.what();
  }
}

/// 1. A lookup that can be cancelled: its canceller answers from a cache.
void canceller_demo(asio::io_context& io)
{
  coflow::deferred<std::string> lookup(io, [](coflow::deferred<std::string>& d) {
    std::cout << "  canceller: giving up, answering from the cache\n";
    d.callback("cached answer");
  });
  lookup.add_callback([](std::string s) { return "<" + s + ">"; });
  lookup.async_wait([](std::exception_ptr e, std::string answer) {
    std::cout << "  consumer: " << (e ? describe(e) : answer) << "\n";
  });

  coflow::deferred<int> plain(io);
  plain.async_wait([](std::exception_ptr e, int) {
    std::cout << "  consumer of a deferred without canceller: " << describe(e) << "\n";
  });

  std::cout << "1. cancelling two lookups\n";
  lookup.cancel();
  plain.cancel();
  io.run();
  io.restart();
}

/// 2. A timer's result arrives while its deferred is paused: held, then
/// delivered by unpause().
void paused_timer_demo(asio::io_context& io)
{
  std::cout << "2. a paused timer result\n";
  asio::steady_timer timer(io, scaled(100ms));
  coflow::deferred<void> fired = timer.async_wait(coflow::use_deferred);
  fired.add_callback([] { std::cout << "  callback: the timer's result is delivered\n"; });
  fired.pause();

  asio::steady_timer later(io, scaled(300ms));
  later.async_wait([&](boost::system::error_code) {
    std::cout << "  timer fired: " << std::boolalpha << fired.called()
              << ", pause count " << fired.pause_count() << ", callback held\n";
    std::cout << "  unpausing\n";
    fired.unpause();
  });
  io.run();
  io.restart();
}

/// 3. A read on loopback that never gets data, cancelled through its
/// deferred: the operation is aborted through its cancellation slot.
void cancelled_read_demo(asio::io_context& io)
{
  std::cout << "3. a pending read on 127.0.0.1, cancelled\n";
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client(io), server(io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);

  std::array<char, 64> buffer;
  coflow::deferred<std::size_t> read =
      server.async_read_some(asio::buffer(buffer), coflow::use_deferred);
  read.async_wait([](std::exception_ptr e, std::size_t n) {
    if (e)
      std::cout << "  read: " << describe(e) << "\n";
    else
      std::cout << "  read " << n << " bytes\n";
  });

  asio::steady_timer patience(io, scaled(200ms));
  patience.async_wait([&](boost::system::error_code) {
    std::cout << "  no data after " << 200 * scale << " ms: cancelling the read\n";
    read.cancel();
  });
  io.run();
  io.restart();
}

} // namespace

int main(int argc, char** argv)
{
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--scale")
      scale = std::atof(argv[i + 1]);

  asio::io_context io;
  canceller_demo(io);
  paused_timer_demo(io);
  cancelled_read_demo(io);
  std::cout << "done\n";
}
