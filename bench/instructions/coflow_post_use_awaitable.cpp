//
// bench/instructions/coflow_post_use_awaitable.cpp: co_await asio::post with
// asio::use_awaitable inside a coflow body (an asio::awaitable awaited from
// coflow), against coflow_post.cpp's use_coroutine (doc/from-asio.md).
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
#include <coflow/coflow.hpp>
#include <boost/asio.hpp>
#include <cstdlib>
namespace asio = boost::asio;
coflow::coroutine<long> loop(asio::io_context& io, int n) { long s = 0; for (int i = 0; i < n; ++i) { co_await asio::post(io, asio::use_awaitable); ++s; } co_return s; }
int main(int argc, char** argv) { int n = std::atoi(argv[1]); asio::io_context io; auto f = coflow::spawn(io, loop(io, n), asio::use_future); io.run(); return f.get() == n ? 0 : 1; }
