// Tutorial step 9 (doc/tutorial.md): coflow and asio::awaitable await each
// other; any Asio operation gives a deferred with use_deferred.
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

/// Plain Asio: doubles @p x after @p d.
asio::awaitable<int> asio_double(int x, std::chrono::milliseconds d)
{
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec == asio::error::operation_aborted)
    std::cout << "asio_double: the timer wait was cancelled\n";
  co_return 2 * x;
}

/// coflow awaiting an asio::awaitable: pause and cancel reach it too.
coflow::coroutine<int> coflow_add(int a, int b, std::chrono::milliseconds d)
{
  int doubled = co_await asio_double(a, d);
  co_return doubled + b;
}

/// asio::awaitable awaiting coflow: a coroutine, a deferred, a cancel.
asio::awaitable<void> asio_main()
{
  int v = co_await coflow_add(20, 2, 50ms); // an unstarted coroutine: spawned here
  std::cout << "awaitable: coflow_add(20, 2) = " << v << "\n";

  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, 50ms);
  coflow::deferred<void> fired = timer.async_wait(coflow::use_deferred); // starts now
  fired.add_callback([] { std::cout << "deferred: callback: the timer fired\n"; });
  co_await std::move(fired);
  std::cout << "awaitable: the deferred has fired\n";

  coflow::deferred<int> d = asio::co_spawn(ex, asio_double(21, 50ms), coflow::use_deferred);
  d.add_callback([](int x) { return x + 1; });
  int r = co_await std::move(d);
  std::cout << "awaitable: co_spawn through use_deferred, plus one = " << r << "\n";

  coflow::coroutine<int> slow = coflow::spawn(ex, coflow_add(1, 1, 1h));
  timer.expires_after(50ms);
  co_await timer.async_wait(asio::use_awaitable);
  slow.cancel(); // reaches the awaitable's timer wait
  try
  {
    co_await std::move(slow);
  }
  catch (const coflow::cancelled_error&)
  {
    std::cout << "awaitable: the cancelled coroutine threw cancelled_error\n";
  }
}

int main()
{
  asio::io_context io;
  asio::co_spawn(io, asio_main(), [](std::exception_ptr e) {
    std::cout << "main: asio_main " << (e ? "failed" : "finished") << "\n";
  });
  io.run();
}
