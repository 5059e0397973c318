//
// example/factorial.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// txcoroutine's tail-call example, ported: fact(n, result) hands itself over
// to fact(n - 1, n * result) until n is 1. Each hop destroys the caller's
// frame before the next one starts, so fact(10000) runs in the memory and
// stack of two frames, and the coroutine that was spawned delivers the
// result of the last one.
//
// Usage: factorial [--scale S]   (computes fact(10000 * S); default S = 1)
//

#include <coflow/coflow.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/multiprecision/cpp_int.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using boost::multiprecision::cpp_int;

namespace {

coflow::coroutine<cpp_int> fact(unsigned n, cpp_int result = 1)
{
  if (n <= 1)
    co_return result;
  co_return co_await coflow::tail_call(fact(n - 1, n * std::move(result)));
}

} // namespace

int main(int argc, char* argv[])
{
  double scale = 1.0;
  if (argc == 3 && std::string(argv[1]) == "--scale")
    scale = std::atof(argv[2]);
  const unsigned n = static_cast<unsigned>(10000 * scale) > 1
      ? static_cast<unsigned>(10000 * scale) : 2;

  asio::io_context io;
  auto result = coflow::spawn(io, fact(n), asio::use_future);
  io.run();

  const std::string digits = result.get().str();
  std::cout << "fact(" << n << ") has " << digits.size() << " digits\n"
            << "first digits: " << digits.substr(0, 10) << "\n"
            << "last digits: " << digits.substr(digits.size() - std::min<std::size_t>(10, digits.size()))
            << "\n";
  // fact(10000): 35660 digits, 28462596809170545189...0000000000.
  return n == 10000 && digits.size() != 35660 ? EXIT_FAILURE : EXIT_SUCCESS;
}
