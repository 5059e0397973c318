// bench/instructions/coflow_recursion.cpp: one recursion argv[1] levels deep
// (`co_return 1 + co_await rec(n - 1)`, bench/recursion.cpp a): every frame
// is alive at the bottom, so each level's block comes from malloc. Counted by
// ./count, per level (depths N and 2N).
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
int main(int, char** argv) { long n = std::atol(argv[1]); asio::io_context io; long r = -1; coflow::spawn(io, rec(n), [&](std::exception_ptr, long v) { r = v; }); io.run(); return r == n ? 0 : 1; }
