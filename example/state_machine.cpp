//
// example/state_machine.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// txcoroutine's "description of operation", ported: process() holds a big
// object and hands itself over to process_state1(), which holds another and
// hands itself over to process_state2(), which does some work and returns
// 123. Each big object is released the moment its state hands over; the
// coroutine that awaits process() sees 123, as if process() had returned it.
// Then a longer-running process hops between two states a million times
// (scaled) in the memory of two frames.
//
// Usage: state_machine [--scale S]   (S scales the delays and the hop count)
//

#include <coflow/coflow.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;

namespace {

double scale = 1.0;

/// A big object that says when it is released.
class some_big_object
{
public:
  explicit some_big_object(std::string name) : name_(std::move(name)), data_(1 << 20)
  {
    std::cout << name_ << ": allocated 1 MiB" << std::endl;
  }
  some_big_object(const some_big_object&) = delete;
  some_big_object& operator=(const some_big_object&) = delete;
  ~some_big_object() { std::cout << name_ << ": released" << std::endl; }

private:
  std::string name_;
  std::vector<char> data_;
};

coflow::coroutine<int> do_something()
{
  asio::steady_timer timer(co_await coflow::this_coro::executor,
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(0.1 * scale)));
  co_await timer.async_wait(coflow::use_coroutine);
  std::cout << "process_state2: did something" << std::endl;
  co_return 123;
}

coflow::coroutine<int> process_state2()
{
  co_return co_await do_something();
}

coflow::coroutine<int> process_state1()
{
  some_big_object another_big_obj("process_state1's another_big_obj");
  co_return co_await coflow::tail_call(process_state2()); // released here
}

coflow::coroutine<int> process()
{
  some_big_object big_obj("process's big_obj");
  co_return co_await coflow::tail_call(process_state1()); // released here
}

coflow::coroutine<void> some_other_coroutine()
{
  int result = co_await process(); // until state2 has returned 123
  std::cout << "some_other_coroutine: process() returned " << result << std::endl;
}

/// Two states that hand over to each other, n times in all.
coflow::coroutine<long> ping(long n);

coflow::coroutine<long> pong(long n)
{
  if (n == 0)
    co_return 0;
  co_return co_await coflow::tail_call(ping(n - 1));
}

coflow::coroutine<long> ping(long n)
{
  if (n == 0)
    co_return 0;
  co_return co_await coflow::tail_call(pong(n - 1));
}

} // namespace

int main(int argc, char* argv[])
{
  if (argc == 3 && std::string(argv[1]) == "--scale")
    scale = std::atof(argv[2]);

  asio::io_context io;
  auto done = coflow::spawn(io, some_other_coroutine(), asio::use_future);
  io.run();
  done.get();

  const long hops = static_cast<long>(1000000 * scale);
  io.restart();
  auto pinged = coflow::spawn(io, ping(hops), asio::use_future);
  io.run();
  std::cout << "ping/pong: " << hops << " hops, result " << pinged.get() << std::endl;
}
