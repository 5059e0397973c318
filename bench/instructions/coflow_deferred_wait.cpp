// bench/instructions/coflow_deferred_wait.cpp: argv[1] deferreds, each
// fired and then awaited from one asio::awaitable through
// async_wait(use_awaitable) (bench/deferred.cpp (a)); with a second argument
// `body`, awaited from a coflow body (co_await d, (b)). Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/spawn.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
long total = 0;
asio::awaitable<void> from_awaitable(asio::io_context& io, int n) { for (int i = 0; i < n; ++i) { coflow::deferred<int> d(io.get_executor()); d.callback(i); total += co_await d.async_wait(asio::use_awaitable); } }
coflow::coroutine<void> from_body(asio::io_context& io, int n) { for (int i = 0; i < n; ++i) { coflow::deferred<int> d(io.get_executor()); d.callback(i); total += co_await d; } }
int main(int argc, char** argv) { int n = std::atoi(argv[1]); asio::io_context io;
  if (argc > 2) coflow::spawn(io, from_body(io, n), asio::detached); else asio::co_spawn(io, from_awaitable(io, n), asio::detached);
  io.run(); return total == long(n) * (n - 1) / 2 ? 0 : 1; }
