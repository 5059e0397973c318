//
// Must not compile: a coflow coroutine body awaits Asio's
// this_coro::executor (coflow's is coflow::this_coro::executor). The build
// checks that the compiler rejects it with the catch-all await_transform's
// message, which lists what a body can await, instead of every overload.
//
// expected-error: coflow: a coroutine body cannot co_await this
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/coroutine.hpp>

#include <boost/asio/this_coro.hpp>

coflow::coroutine<int> body()
{
  auto ex = co_await boost::asio::this_coro::executor;
  (void)ex;
  co_return 1;
}

int main()
{
  (void)body();
}
