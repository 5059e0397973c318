// bench/instructions/coflow_child.cpp: a loop of argv[1] children that
// complete at once (bench/coroutine.cpp (a)). Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coflow.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
coflow::coroutine<int> child(int i) { co_return i; }
coflow::coroutine<long> loop(int n) { long s = 0; for (int i = 0; i < n; ++i) s += co_await child(i); co_return s; }
int main(int, char** argv) {
  int n = std::atoi(argv[1]); asio::io_context io;
  auto f = coflow::spawn(io, loop(n), asio::use_future); io.run(); return f.get() > 0 ? 0 : 1;
}
