// bench/instructions/coflow_recursion_repeated.cpp: argv[1] levels of
// recursion (`co_return 1 + co_await rec(n - 1)`), run argv[1] / argv[2]
// times argv[2] deep: from the second run on, the blocks come back from the
// thread's spares, so the count is coflow's own work per level without the
// allocator (at depth 30, nested within the bound; at 200, parked beyond
// it). Counted by ./count, per level.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
#include <exception>
namespace asio = boost::asio;
coflow::coroutine<long> rec(long n) { if (n == 0) co_return 0; co_return 1 + co_await rec(n - 1); }
coflow::coroutine<long> loop(long runs, long depth) { long s = 0; for (long i = 0; i < runs; ++i) s += co_await rec(depth); co_return s; }
int main(int, char** argv) {
  long n = std::atol(argv[1]), depth = std::atol(argv[2]), runs = n / depth;
  asio::io_context io; long r = -1;
  coflow::spawn(io, loop(runs, depth), [&](std::exception_ptr, long v) { r = v; });
  io.run(); return r == runs * depth ? 0 : 1;
}
