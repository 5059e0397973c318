// Tutorial step 5 (doc/tutorial.md): a state machine of coroutines that hand
// over to each other with tail_call runs in the memory of one state, for as
// long as it runs; its handle stays bound to the running state.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)

#include <coflow/coflow.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <exception>
#include <iostream>

namespace asio = boost::asio;

long hops = 0;          // state changes so far
int live = 0, peak = 0; // states alive now, and at most

/// Counts the states alive: one in each state's frame.
struct state_frame
{
  state_frame() { peak = std::max(peak, ++live); }
  ~state_frame() { --live; }
};

coflow::deferred<void>* milestone = nullptr; // fired at hop 100 000

void hop()
{
  if (++hops == 100'000)
    milestone->callback(); // runs its callbacks now
}

coflow::coroutine<void> green();

coflow::coroutine<void> red()
{
  state_frame frame;
  co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine); // some work
  hop();
  co_return co_await coflow::tail_call(green()); // red's frame goes; green's body runs
}

coflow::coroutine<void> green()
{
  state_frame frame;
  co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
  hop();
  co_return co_await coflow::tail_call(red());
}

/// For contrast: a plain co_await keeps every caller's frame to the end.
coflow::coroutine<void> nested(int depth)
{
  state_frame frame;
  if (depth > 1)
    co_await nested(depth - 1);
}

int main()
{
  asio::io_context io;
  coflow::deferred<void> at_100k(io);
  milestone = &at_100k;

  coflow::coroutine<void> machine = coflow::spawn(io, red()); // runs for ever...
  at_100k.add_callback([&] {
    std::cout << "main: " << hops << " hops; cancelling the machine\n";
    machine.cancel(); // ...until cancelled through the handle, which follows every hop
  });
  machine.async_wait([](std::exception_ptr e) {
    try
    {
      std::rethrow_exception(e);
    }
    catch (const coflow::cancelled_error&)
    {
      std::cout << "main: the machine ended with cancelled_error\n";
    }
  });
  io.run();
  std::cout << "main: " << hops << " hops, at most " << peak << " state alive at once\n";

  peak = 0;
  coflow::spawn(io, nested(1000), asio::detached);
  io.restart();
  io.run();
  std::cout << "main: nested(1000): " << peak << " states alive at once\n";
}
