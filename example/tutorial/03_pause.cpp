// Tutorial step 3 (doc/tutorial.md): pausing a parent pauses the child it
// awaits, down to the child's timer; the timer's result is held until the
// last unpause.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)

#include <coflow/coflow.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

bool unpaused = false; // set by the controller just before the last unpause

coflow::coroutine<int> child()
{
  std::cout << "child: waiting 200 ms on a timer\n";
  asio::steady_timer timer(co_await coflow::this_coro::executor, 200ms);
  co_await timer.async_wait(coflow::use_coroutine);
  std::cout << "child: resumed " << (unpaused ? "after" : "before") << " the last unpause\n";
  co_return 42;
}

coflow::coroutine<void> parent()
{
  int v = co_await child();
  std::cout << "parent: child returned " << v << "\n";
}

/// Pauses @p p at 50 ms, twice; unpauses it at 450 ms and 550 ms.
coflow::coroutine<void> controller(coflow::coroutine<void> p)
{
  co_await coflow::sleep(50ms);
  p.pause();
  p.pause(); // pauses are counted
  std::cout << "controller: paused the parent, pause_count = " << p.pause_count() << "\n";
  co_await coflow::sleep(400ms); // the child's timer fires at 200 ms: held
  p.unpause();
  std::cout << "controller: one unpause, pause_count = " << p.pause_count() << "\n";
  co_await coflow::sleep(100ms);
  unpaused = true;
  std::cout << "controller: last unpause\n";
  p.unpause();
}

int main()
{
  asio::io_context io;
  coflow::coroutine<void> p = coflow::spawn(io, parent());
  coflow::spawn(io, controller(p), asio::detached);
  io.run();
  std::cout << "main: done\n";
}
