// bench/instructions/asio_cancel_chain.cpp: the asio::awaitable peer of
// coflow_cancel_chain.cpp, cancelled through a bound slot. Counted by
// ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
asio::awaitable<void> chain(int depth) {
  if (depth == 0) { asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours(1)); co_await t.async_wait(asio::use_awaitable); }
  else co_await chain(depth - 1);
}
int main(int argc, char** argv) {
  int reps = std::atoi(argv[1]) / 1000;
  asio::io_context io(1);
  for (int i = 0; i < reps; ++i) {
    asio::cancellation_signal signal;
    asio::co_spawn(io, chain(1000), asio::bind_cancellation_slot(signal.slot(), [](std::exception_ptr) {}));
    io.poll(); io.restart();
    signal.emit(asio::cancellation_type::terminal);
    io.run(); io.restart();
  }
}
