// bench/instructions/asio_post_and_child.cpp: the asio::awaitable peers:
// argv[1] posts (bench (b)); with a second argument `child`, argv[1] children
// (bench (a)); with `spawn`, argv[1] awaitables co_spawned detached.
// Counted by ./count.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
#include <boost/asio.hpp>
#include <cstdlib>
#include <cstring>
namespace asio = boost::asio;
asio::awaitable<long> loop(asio::io_context& io, int n) { long s = 0; for (int i = 0; i < n; ++i) { co_await asio::post(io, asio::use_awaitable); ++s; } co_return s; }
asio::awaitable<int> child(int i) { co_return i; }
long total = 0;
asio::awaitable<void> body(long i) { total += i; co_return; }
asio::awaitable<long> rloop(int n) { long s = 0; for (int i = 0; i < n; ++i) s += co_await child(i); co_return s; }
int main(int argc, char** argv) { int n = std::atoi(argv[1]); asio::io_context io; 
  if (argc > 2 && std::strcmp(argv[2], "spawn") == 0) { for (int i = 0; i < n; ++i) asio::co_spawn(io, body(i), asio::detached); io.run(); return total == long(n) * (n - 1) / 2 ? 0 : 1; }
  if (argc > 2) { auto f = asio::co_spawn(io, rloop(n), asio::use_future); io.run(); return f.get() > 0 ? 0 : 1; }
  auto f = asio::co_spawn(io, loop(io, n), asio::use_future); io.run(); return f.get() == n ? 0 : 1; }
