// Tutorial step 2 (doc/tutorial.md): a coroutine awaits child coroutines;
// a child's exception is thrown at the parent's co_await.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)

#include <coflow/coflow.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// The price of item @p id, after a lookup of 50 ms; throws for an unknown id.
coflow::coroutine<int> price_of(int id)
{
  asio::steady_timer timer(co_await coflow::this_coro::executor, 50ms);
  co_await timer.async_wait(coflow::use_coroutine);
  if (id > 3)
    throw std::out_of_range("no item " + std::to_string(id));
  co_return id * 10;
}

/// The total price of items 1 to @p last, one lookup after the other.
coflow::coroutine<int> total_of(int last)
{
  int total = 0;
  for (int id = 1; id <= last; ++id)
  {
    int price = co_await price_of(id); // the child starts here, on our executor
    std::cout << "total_of(" << last << "): item " << id << " costs " << price << "\n";
    total += price;
  }
  co_return total;
}

coflow::coroutine<void> shop()
{
  int total = co_await total_of(3);
  std::cout << "shop: total of 1..3 = " << total << "\n";
  try
  {
    co_await total_of(5); // item 4 fails: the exception climbs two levels
    std::cout << "shop: not reached\n";
  }
  catch (const std::out_of_range& e)
  {
    std::cout << "shop: caught: " << e.what() << "\n";
  }
  co_await total_of(4); // not caught here: shop() fails with it
}

int main()
{
  asio::io_context io;
  coflow::spawn(io, shop(), [](std::exception_ptr e) {
    try
    {
      if (e)
        std::rethrow_exception(e);
      std::cout << "main: shop() succeeded\n";
    }
    catch (const std::exception& x)
    {
      std::cout << "main: shop() failed: " << x.what() << "\n";
    }
  });
  io.run();
}
