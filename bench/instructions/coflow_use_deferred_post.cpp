// bench/instructions/coflow_use_deferred_post.cpp: argv[1] times
// `co_await asio::post(io, use_deferred).async_wait(use_awaitable)` from an
// asio::awaitable (bench/deferred.cpp c). Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/deferred.hpp>
#include <coflow/use_deferred.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
asio::awaitable<void> loop(asio::io_context& io, long n) {
  for (long i = 0; i < n; ++i) co_await asio::post(io, coflow::use_deferred).async_wait(asio::use_awaitable);
}
int main(int, char** argv) { asio::io_context io(1); asio::co_spawn(io, loop(io, std::atol(argv[1])), asio::detached); io.run(); }
