// bench/instructions/coflow_nested.cpp: argv[1] iterations of a loop that
// awaits a call nested argv[2] deep (`co_await nested(d)`, d + 1 frames;
// bench/nested.cpp b, c). Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
coflow::coroutine<void> nested(int depth) { if (depth > 0) co_await nested(depth - 1); co_return; }
coflow::coroutine<void> loop(int n, int d) { for (int i = 0; i < n; ++i) co_await nested(d); }
int main(int, char** argv) { int n = std::atoi(argv[1]); int d = std::atoi(argv[2]); asio::io_context io; coflow::spawn(io, loop(n, d), asio::detached); io.run(); }
