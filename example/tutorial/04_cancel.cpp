// Tutorial step 4 (doc/tutorial.md): a cancel unwinds the tree innermost
// first; destructors and catch blocks clean up; shield() lets a cleanup await.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)

#include <coflow/coflow.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <exception>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Prints a line when its scope ends, however it ends.
struct finally
{
  const char* text;
  ~finally() { std::cout << text << "\n"; }
};

coflow::coroutine<void> level3()
{
  finally bye{"level3: destructors run"};
  asio::steady_timer timer(co_await coflow::this_coro::executor, 1h);
  co_await timer.async_wait(coflow::use_coroutine); // the cancel reaches this wait first
}

coflow::coroutine<void> say_goodbye()
{
  co_await coflow::sleep(100ms); // a message to a peer, a flush...
  std::cout << "level2: goodbye sent\n";
}

coflow::coroutine<void> level2()
{
  finally bye{"level2: destructors run"};
  bool cancelled = false;
  try
  {
    co_await level3();
  }
  catch (const coflow::cancelled_error&)
  {
    cancelled = true; // C++ forbids co_await in a handler: the cleanup follows it
    std::cout << "level2: caught cancelled_error\n";
  }
  if (cancelled)
  {
    // A cancelled coroutine's co_await throws at once (the cancel is sticky),
    // except inside shield(). timeout() bounds the cleanup.
    auto goodbye = coflow::shield(coflow::timeout(2s, say_goodbye()));
    co_await std::move(goodbye);
  }
  try
  {
    co_await coflow::sleep(1ms);
  }
  catch (const coflow::cancelled_error&)
  {
    std::cout << "level2: an unshielded co_await throws cancelled_error at once\n";
  }
  std::cout << "level2: done; its result stays cancelled_error\n";
}

coflow::coroutine<void> level1()
{
  finally bye{"level1: destructors run"};
  co_await level2();
  std::cout << "level1: not reached\n";
}

int main()
{
  asio::io_context io;
  coflow::coroutine<void> root = coflow::spawn(io, level1());
  root.async_wait([](std::exception_ptr e) {
    try
    {
      std::rethrow_exception(e);
    }
    catch (const coflow::cancelled_error&)
    {
      std::cout << "main: level1 ended with cancelled_error\n";
    }
  });
  asio::steady_timer later(io, 100ms);
  later.async_wait([&](boost::system::error_code) {
    std::cout << "main: cancel level1\n";
    root.cancel();
  });
  io.run();
}
