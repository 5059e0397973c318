// bench/instructions/asio_nested.cpp: the asio::awaitable peer of
// coflow_nested.cpp. Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
asio::awaitable<void> nested(int depth) { if (depth > 0) co_await nested(depth - 1); co_return; }
asio::awaitable<void> loop(int n, int d) { for (int i = 0; i < n; ++i) co_await nested(d); }
int main(int, char** argv) { int n = std::atoi(argv[1]); int d = std::atoi(argv[2]); asio::io_context io; asio::co_spawn(io, loop(n, d), asio::detached); io.run(); }
