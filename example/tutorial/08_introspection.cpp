// Tutorial step 8 (doc/tutorial.md): await_tree and await_forest show what
// every coroutine waits on, and what a pause and a cancel do to the tree.
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

coflow::coroutine<void> wait_for(std::chrono::milliseconds d)
{
  asio::steady_timer timer(co_await coflow::this_coro::executor, d);
  co_await timer.async_wait(coflow::use_coroutine);
}

coflow::coroutine<void> worker(std::chrono::milliseconds period)
{
  for (;;)
    co_await wait_for(period);
}

coflow::coroutine<void> fan_out()
{
  auto workers = coflow::join(worker(1h), worker(2h));
  co_await std::move(workers);
}

coflow::coroutine<void> root()
{
  bool cancelled = false;
  try
  {
    co_await fan_out();
  }
  catch (const coflow::cancelled_error&)
  {
    cancelled = true;
  }
  if (cancelled)
  {
    auto cleanup = coflow::shield(wait_for(200ms));
    co_await std::move(cleanup);
  }
}

coflow::coroutine<void> inspector(coflow::coroutine<void> watched)
{
  co_await coflow::sleep(100ms); // every coroutine has started and suspended
  std::cout << "== await_tree(watched):\n" << coflow::to_string(coflow::await_tree(watched));
  watched.pause();
  std::cout << "== paused:\n" << coflow::to_string(coflow::await_tree(watched));
  watched.unpause();
  auto ex = co_await coflow::this_coro::executor;
  std::cout << "== await_forest(ex):\n" << coflow::to_string(coflow::await_forest(ex));
  watched.cancel();
  co_await coflow::sleep(50ms); // the workers have unwound; root cleans up
  std::cout << "== cancelled:\n" << coflow::to_string(coflow::await_tree(watched));
}

int main()
{
  asio::io_context io;
  coflow::coroutine<void> r = coflow::spawn(io, root());
  coflow::spawn(io, inspector(r), asio::detached);
  io.run();
  std::cout << "main: done\n";
}
