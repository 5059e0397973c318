// bench/instructions/coflow_task_group.cpp: argv[1] coroutines spawned in
// task_groups of 1 000 (as bench/combinators.cpp does) on an io_context and
// run to their end. Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coflow.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
long total = 0;
coflow::coroutine<void> body(long i) { total += i; co_return; }
int main(int, char** argv)
{
  const int n = std::atoi(argv[1]);
  asio::io_context io;
  for (int first = 0; first < n; first += 1000)
  {
    coflow::spawn(io, coflow::with_task_group([first, n](coflow::task_group& g) -> coflow::coroutine<void> {
      for (int i = first; i < first + 1000 && i < n; ++i)
        g.spawn(body(i));
      co_return;
    }), asio::detached);
    io.run();
    io.restart();
  }
  return total == long(n) * (n - 1) / 2 ? 0 : 1;
}
