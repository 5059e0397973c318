// bench/instructions/coflow_pause_unpause_chain.cpp: argv[1] pause+unpause
// of one chain 1000 deep (bench (e)). Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coflow.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
coflow::coroutine<int> rec(int n, coflow::deferred<int> leaf) {
  if (n == 0) co_return co_await leaf;
  co_return 1 + co_await rec(n - 1, leaf);
}
int main(int argc, char** argv) {
  int reps = std::atoi(argv[1]);
  asio::io_context io; coflow::deferred<int> leaf(io);
  auto c = coflow::spawn(io, rec(1000, leaf));
  io.poll(); io.restart();
  for (int i = 0; i < reps; ++i) { c.pause(); c.unpause(); }
  leaf.callback(1); io.run();
}
