// bench/instructions/asio_void_child.cpp: the asio::awaitable peer of
// coflow_void_child.cpp. Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
asio::awaitable<void> child() { co_return; }
asio::awaitable<void> loop(int n) { for (int i = 0; i < n; ++i) co_await child(); }
int main(int, char** argv) { asio::io_context io; asio::co_spawn(io, loop(std::atoi(argv[1])), asio::detached); io.run(); }
