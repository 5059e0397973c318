// bench/instructions/coflow_tail_unstarted.cpp: a chain of argv[1] tail
// calls to unstarted states (bench/tail_call.cpp). Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coflow.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
coflow::coroutine<long> hop(long n) { if (n == 0) co_return 0; co_return co_await coflow::tail_call(hop(n - 1)); }
int main(int argc, char** argv) {
  long n = std::atol(argv[1]); asio::io_context io;
  auto f = coflow::spawn(io, hop(n), asio::use_future); io.run(); return f.get() == 0 ? 0 : 1;
}
