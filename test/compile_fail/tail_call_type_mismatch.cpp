//
// Must not compile: a tail call hands a coroutine<int> over to a
// coroutine<long> (the build checks that the compiler rejects it, with
// tail_call's own message).
//
// expected-error: coflow::tail_call: the next state must be a coroutine of the same result type
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/coroutine.hpp>
#include <coflow/tail_call.hpp>

coflow::coroutine<long> next_state()
{
  co_return 1L;
}

coflow::coroutine<int> state()
{
  co_return co_await coflow::tail_call(next_state());
}

int main()
{
  (void)state();
}
