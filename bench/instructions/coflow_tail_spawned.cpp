// bench/instructions/coflow_tail_spawned.cpp: a chain of argv[1] tail calls
// to spawned states (the chain collapses). Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coflow.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
coflow::coroutine<long> hop(asio::io_context& io, long n) { if (n == 0) co_return 0; auto next = coflow::spawn(io, hop(io, n - 1)); co_return co_await coflow::tail_call(std::move(next)); }
int main(int argc, char** argv) {
  long n = std::atol(argv[1]); asio::io_context io;
  auto f = coflow::spawn(io, hop(io, n), asio::use_future); io.run(); return f.get() == 0 ? 0 : 1;
}
