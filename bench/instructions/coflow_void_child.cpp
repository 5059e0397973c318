// bench/instructions/coflow_void_child.cpp: argv[1] coroutine<void> children
// awaited at once in a loop (bench/nested.cpp a). Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
coflow::coroutine<void> child() { co_return; }
coflow::coroutine<void> loop(int n) { for (int i = 0; i < n; ++i) co_await child(); }
int main(int, char** argv) { asio::io_context io; coflow::spawn(io, loop(std::atoi(argv[1])), asio::detached); io.run(); }
