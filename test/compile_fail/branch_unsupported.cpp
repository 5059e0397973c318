//
// Must not compile: a branch of a combinator that a coroutine body cannot
// await (a std::future). The build checks that the compiler rejects it with
// the combinators' own message, which lists what a branch can be.
//
// expected-error: coflow: a branch of a combinator must be something
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/join.hpp>

#include <future>

coflow::coroutine<int> value()
{
  co_return 1;
}

coflow::coroutine<int> body(std::future<int> f)
{
  auto [a, b] = co_await coflow::join(value(), std::move(f));
  co_return a + b;
}

int main()
{
  (void)body(std::future<int>());
}
