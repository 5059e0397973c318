//
// test/tools/expect_compile_error.cpp: the b2 build's compile-fail check
// (test/Jamfile), the same as test/CMakeLists.txt's: b2's own compile-fail
// rule only sees that compilation fails; this also checks the message.
//
//   expect_compile_error <source> [<include dir>]
//
// Compiles <source> with `-std=c++20 -fsyntax-only -I<include dir>` (default
// include dir: <source's dir>/../../include), with the compiler of the family
// that built this program (g++ or clang++), and passes (exit status 0) only
// if the compiler rejects the source and its output contains the message of
// the source's `// expected-error: <message>` line.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <sys/wait.h>

namespace {

#if defined(__clang__)
const char* const compiler = "clang++";
#else
const char* const compiler = "g++";
#endif

/// The text of @p source's `// expected-error: ` line ("" if none).
std::string expected_message(const std::string& source)
{
  const std::string prefix = "// expected-error: ";
  std::ifstream in(source);
  for (std::string line; std::getline(in, line);)
    if (line.compare(0, prefix.size(), prefix) == 0)
      return line.substr(prefix.size());
  return {};
}

std::string quoted(const std::string& s)
{
  std::string q = "'";
  for (char c : s)
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

} // namespace

int main(int argc, char** argv)
{
  if (argc < 2 || argc > 3)
  {
    std::cerr << "usage: expect_compile_error <source> [<include dir>]\n";
    return 2;
  }
  const std::string source = argv[1];
  const auto slash = source.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : source.substr(0, slash);
  const std::string include = argc == 3 ? argv[2] : dir + "/../../include";

  const std::string message = expected_message(source);
  if (message.empty())
  {
    std::cerr << source << ": no '// expected-error: <message>' line\n";
    return 1;
  }

  const std::string command = std::string(compiler) + " -std=c++20 -fsyntax-only -I"
      + quoted(include) + " " + quoted(source) + " 2>&1";
  std::cout << command << "\n";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe)
  {
    std::perror("popen");
    return 1;
  }
  std::string output;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    output.append(buffer, n);
  const int status = pclose(pipe);
  const bool rejected = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  if (!rejected)
  {
    std::cout << "FAILED: " << source << " compiled; it must not\n";
    return 1;
  }
  if (output.find(message) == std::string::npos)
  {
    std::cout << output << "FAILED: the compiler rejected " << source
              << ", but without the expected message: " << message << "\n";
    return 1;
  }
  std::cout << "rejected with the expected message: " << message << "\n";
  return 0;
}
