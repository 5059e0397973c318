// bench/instructions/asio_recursion_repeated.cpp: the asio::awaitable peer
// of coflow_recursion_repeated.cpp (Asio's frames come from malloc beyond
// its cache's slots). Counted by ./count, per level.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
asio::awaitable<long> rec(long n) { if (n == 0) co_return 0; co_return 1 + co_await rec(n - 1); }
asio::awaitable<void> loop(long runs, long depth, long& s) { for (long i = 0; i < runs; ++i) s += co_await rec(depth); }
int main(int, char** argv) {
  long n = std::atol(argv[1]), depth = std::atol(argv[2]), runs = n / depth;
  asio::io_context io; long s = 0;
  asio::co_spawn(io, loop(runs, depth, s), asio::detached);
  io.run(); return s == runs * depth ? 0 : 1;
}
