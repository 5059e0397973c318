// bench/instructions/coflow_cancel_chain.cpp: argv[1]/1000 chains 1000 deep,
// each suspended on a timer and cancelled (bench (e)). Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coflow.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
coflow::coroutine<void> chain(int depth) {
  if (depth == 0) { asio::steady_timer t(co_await coflow::this_coro::executor, std::chrono::hours(1)); co_await t.async_wait(coflow::use_coroutine); }
  else co_await chain(depth - 1);
}
int main(int argc, char** argv) {
  int reps = std::atoi(argv[1]) / 1000;
  asio::io_context io(1);
  for (int i = 0; i < reps; ++i) {
    auto c = coflow::spawn(io, chain(1000)); io.poll(); io.restart();
    c.cancel();
    io.run(); io.restart();
  }
}
