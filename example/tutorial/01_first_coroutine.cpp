// Tutorial step 1 (doc/tutorial.md): a first coroutine, spawned on an
// io_context, awaiting an Asio timer; its result through a callback and a future.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)

#include <coflow/coflow.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <exception>
#include <future>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Adds a and b after a wait of d on a timer.
coflow::coroutine<int> add_later(int a, int b, std::chrono::milliseconds d)
{
  std::cout << "add_later(" << a << ", " << b << "): started\n";
  asio::steady_timer timer(co_await coflow::this_coro::executor, d);
  co_await timer.async_wait(coflow::use_coroutine); // suspends; the thread runs other work
  std::cout << "add_later(" << a << ", " << b << "): the timer has fired\n";
  co_return a + b;
}

int main()
{
  asio::io_context io;

  // Calling a coroutine function runs nothing: it returns an unstarted coroutine.
  coflow::coroutine<int> lazy = add_later(1, 2, 100ms);
  std::cout << std::boolalpha << "main: lazy.started() = " << lazy.started() << "\n";

  // spawn starts it on io (the start is posted) and returns the same handle.
  coflow::coroutine<int> first = coflow::spawn(io, std::move(lazy));
  first.add_callback([](int sum) {
    std::cout << "main: callback: 1 + 2 = " << sum << "\n";
    return sum;
  });

  // With a completion token, spawn completes through it, like co_spawn.
  std::future<int> second = coflow::spawn(io, add_later(20, 22, 200ms), asio::use_future);

  std::cout << "main: io.run()\n";
  io.run(); // returns when both coroutines have finished
  std::cout << "main: future: 20 + 22 = " << second.get() << "\n";
}
