//
// example/cascade.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// txcoroutine's advanced example, ported: three levels of coroutines, the
// innermost sleeping a second per iteration. The root is paused at 3 s,
// unpaused at 6 s and cancelled at 9 s; each action cascades to the level
// that is waiting, and the cleanup runs innermost-first.
//
// Usage: cascade [--scale S]   (S multiplies every delay; default 1)
//

#include <coflow/coflow.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;

namespace {

double scale = 1.0;

std::chrono::steady_clock::duration seconds(double s)
{
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s * scale));
}

/// Prints @p text when the scope ends: the `finally:` of the original.
struct finally
{
  const char* text;
  ~finally() { std::cout << text << std::endl; }
};

coflow::coroutine<void> sleep(double s)
{
  asio::steady_timer timer(co_await coflow::this_coro::executor, seconds(s));
  co_await timer.async_wait(coflow::use_coroutine);
}

coflow::coroutine<void> level3_process()
{
  finally cleanup{"level3_process stopped; cleaning up..."};
  auto basetime = std::chrono::steady_clock::now();
  auto seconds_passed = [&] {
    std::chrono::duration<double> d = std::chrono::steady_clock::now() - basetime;
    return std::lround(d.count() / scale);
  };
  for (;;)
  {
    std::cout << "iterating: " << seconds_passed() << "s passed" << std::endl;
    co_await sleep(1.0);
  }
}

coflow::coroutine<void> level2_process()
{
  finally cleanup{"level2_process stopped; cleaning up..."};
  co_await level3_process();
}

coflow::coroutine<void> root_process()
{
  finally cleanup{"root_process stopped; cleaning up..."};
  co_await level2_process();
}

} // namespace

int main(int argc, char** argv)
{
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--scale")
      scale = std::atof(argv[i + 1]);

  asio::io_context io;
  auto proc = coflow::spawn(io, root_process());
  asio::steady_timer pause(io, seconds(3.0)), unpause(io, seconds(6.0)),
      cancel(io, seconds(9.0));
  pause.async_wait([&](boost::system::error_code) { proc.pause(); });
  unpause.async_wait([&](boost::system::error_code) { proc.unpause(); });
  cancel.async_wait([&](boost::system::error_code) { proc.cancel(); });
  io.run();
}
