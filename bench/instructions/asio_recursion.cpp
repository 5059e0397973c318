// bench/instructions/asio_recursion.cpp: the asio::awaitable peer of
// coflow_recursion.cpp. Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <boost/asio.hpp>
#include <cstdlib>
#include <exception>
namespace asio = boost::asio;
asio::awaitable<long> rec(long n) { if (n == 0) co_return 0; co_return 1 + co_await rec(n - 1); }
int main(int, char** argv) { long n = std::atol(argv[1]); asio::io_context io; long r = -1; asio::co_spawn(io, rec(n), [&](std::exception_ptr, long v) { r = v; }); io.run(); return r == n ? 0 : 1; }
