// Tutorial step 6 (doc/tutorial.md): join, race, timeout, sleep and gather
// await several children at once; losers are cancelled, and a combinator
// resumes its awaiter only once every branch has finished.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)

#include <coflow/coflow.hpp>

#include <boost/asio.hpp>

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// @p v after @p d; says so when it is cancelled.
coflow::coroutine<int> value_after(std::chrono::milliseconds d, int v)
{
  try
  {
    co_await coflow::sleep(d);
  }
  catch (const coflow::cancelled_error&)
  {
    std::cout << "  value_after(" << v << "): cancelled\n";
    throw;
  }
  co_return v;
}

coflow::coroutine<int> fail_after(std::chrono::milliseconds d)
{
  co_await coflow::sleep(d);
  throw std::runtime_error("fail_after: failed");
}

coflow::coroutine<void> tour()
{
  auto both = coflow::join(value_after(200ms, 1), value_after(100ms, 2));
  auto [a, b] = co_await std::move(both); // 200 ms, not 300
  std::cout << "join: " << a << " and " << b << "\n";

  try
  {
    auto doomed = coflow::join(value_after(1h, 3), fail_after(50ms));
    co_await std::move(doomed); // the failure cancels the other branch
  }
  catch (const std::runtime_error& e)
  {
    std::cout << "join: " << e.what() << "\n";
  }

  auto first = coflow::race(value_after(300ms, 4), value_after(100ms, 5));
  auto winner = co_await std::move(first); // the loser is cancelled
  std::cout << "race: branch " << winner.index() << " won with " << std::get<1>(winner) << "\n";

  try
  {
    auto bounded = coflow::timeout(100ms, value_after(1h, 6));
    co_await std::move(bounded);
  }
  catch (const coflow::timeout_error&)
  {
    std::cout << "timeout: timeout_error\n";
  }

  co_await coflow::sleep(50ms);
  std::cout << "sleep: 50 ms passed\n";

  std::vector<coflow::coroutine<int>> tries;
  tries.push_back(value_after(100ms, 7));
  tries.push_back(fail_after(50ms)); // a failure cancels nothing in a gather
  tries.push_back(value_after(150ms, 8));
  auto all = coflow::gather(std::move(tries));
  for (auto& r : co_await std::move(all))
    std::cout << "gather: " << (r ? std::to_string(*r) : std::string("an error")) << "\n";
}

int main()
{
  asio::io_context io;
  coflow::spawn(io, tour(), asio::detached);
  io.run();
}
