//
// example/simple.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// txcoroutine's simple example, ported: a coroutine that keeps getting
// messages from a deferred-returning function. Cancelling the coroutine
// cancels the deferred it waits on, whose canceller stops the work.
//
// Usage: simple [--scale S]   (S multiplies every delay; default 1)
//

#include <coflow/coflow.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

namespace asio = boost::asio;

namespace {

double scale = 1.0;

std::chrono::steady_clock::duration seconds(double s)
{
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s * scale));
}

/// A message that arrives after a second of heavy lifting; cancelling the
/// deferred stops the heavy lifting.
coflow::deferred<std::string> get_message(asio::io_context& io)
{
  auto heavylifting = std::make_shared<asio::steady_timer>(io, seconds(1.0));
  coflow::deferred<std::string> d(io, [heavylifting](coflow::deferred<std::string>&) {
    std::cout << "cancelled getting a message" << std::endl;
    heavylifting->cancel();
  });
  std::cout << "getting a message..." << std::endl;
  heavylifting->async_wait([d, heavylifting](boost::system::error_code ec) {
    if (!ec)
      d.callback("dummy-message");
  });
  return d;
}

coflow::coroutine<void> some_process(asio::io_context& io)
{
  struct finally
  {
    ~finally() { std::cout << "coroutine stopped, cleaning up" << std::endl; }
  } cleanup;
  for (;;)
  {
    std::string msg = co_await get_message(io);
    std::cout << "processing message: " << msg << std::endl;
  }
}

} // namespace

int main(int argc, char** argv)
{
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--scale")
      scale = std::atof(argv[i + 1]);

  asio::io_context io;
  auto proc = coflow::spawn(io, some_process(io));
  asio::steady_timer stop(io, seconds(3.0)); // stop the coroutine 3 seconds later
  stop.async_wait([&](boost::system::error_code) { proc.cancel(); });
  io.run();
}
