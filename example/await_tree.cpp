//
// example/await_tree.cpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Introspection (doc/introspection.md): what is everyone waiting on?
//
// The three levels of example/cascade.cpp, the innermost one fanning out to
// two workers with coflow::join, and a watchdog spawned next to them, all on
// one thread. Once every coroutine has suspended, the root is paused and
// its await tree printed, with the await forest of the io_context; the tree
// is written as Graphviz DOT to await_tree.dot and, if `dot` is on PATH,
// rendered to await_tree.png. Then the root is unpaused and cancelled, and
// its tree printed again while level2_process, having caught the cancel,
// says goodbye inside shield(timeout(...)): it shows `cancelling`.
//
// Usage: await_tree [--scale S] [--out DIR]
//   S multiplies the workers' periods and the watchdog's limit (default 1;
//   the program never waits for them). DIR receives await_tree.dot and
//   await_tree.png (default: coflow-await_tree in the system's temporary
//   directory). Built with COFLOW_NO_INTROSPECTION, it only says so.
//

#include <coflow/coflow.hpp>
#ifndef COFLOW_NO_INTROSPECTION
#include <coflow/await_tree.hpp>
#endif

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <system_error>

#ifdef COFLOW_NO_INTROSPECTION

int main()
{
  std::cout << "await_tree: introspection is compiled out (COFLOW_NO_INTROSPECTION)" << std::endl;
}

#else

namespace asio = boost::asio;

namespace {

double scale = 1.0;

std::chrono::steady_clock::duration seconds(double s)
{
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s * scale));
}

/// The peer's acknowledgement of level2_process's goodbye (main gives it).
coflow::deferred<void>* goodbye_acknowledged = nullptr;

/// Polls something every @p period seconds, for ever.
coflow::coroutine<void> worker(double period)
{
  for (;;)
    co_await coflow::sleep(seconds(period));
}

coflow::coroutine<void> level3_process()
{
  auto workers = coflow::join(worker(1.0), worker(1.5));
  co_await std::move(workers);
}

/// Says goodbye and waits until the peer acknowledges it.
coflow::coroutine<void> goodbye(coflow::deferred<void> acknowledged)
{
  std::cout << "level2_process: cancelled; saying goodbye" << std::endl;
  co_await acknowledged;
}

coflow::coroutine<void> level2_process()
{
  bool cancelled = false;
  try
  {
    co_await level3_process();
  }
  catch (const coflow::cancelled_error&)
  {
    cancelled = true; // C++ forbids co_await in a handler: the cleanup follows
  }
  if (cancelled)
  {
    // Not scaled: the bound of the cleanup, never reached here.
    auto bye = goodbye(*goodbye_acknowledged);
    co_await coflow::shield(coflow::timeout(std::chrono::seconds(2), std::move(bye)));
  }
}

coflow::coroutine<void> root_process()
{
  co_await level2_process();
}

/// Cancels @p watched if it still runs after @p limit seconds.
coflow::coroutine<void> watchdog(coflow::coroutine<void> watched, double limit)
{
  co_await coflow::sleep(seconds(limit));
  watched.cancel();
}

/// @p text, ending with a newline.
std::string line_ended(std::string text)
{
  if (text.empty() || text.back() != '\n')
    text += '\n';
  return text;
}

/// @p p in single quotes, for /bin/sh.
std::string shell_quoted(const std::filesystem::path& p)
{
  std::string quoted = "'";
  for (char c : p.string())
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

/// Writes @p dot to DIR/await_tree.dot, and renders it to DIR/await_tree.png
/// if Graphviz's `dot` is on PATH. False if the .dot file could not be written.
bool write_and_render(const std::filesystem::path& dir, const std::string& dot)
{
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::filesystem::path dot_file = dir / "await_tree.dot";
  const std::filesystem::path png_file = dir / "await_tree.png";
  {
    std::ofstream out(dot_file);
    out << dot;
    if (!out)
    {
      std::cout << "await_tree: cannot write " << dot_file.string() << std::endl;
      return false;
    }
  }
  std::cout << "wrote " << dot_file.string() << std::endl;
  if (std::system("command -v dot >/dev/null 2>&1") != 0)
  {
    std::cout << "note: Graphviz's dot is not on PATH: no PNG (scripts/install-deps installs it)"
              << std::endl;
    return true;
  }
  const std::string command =
      "dot -Tpng -o " + shell_quoted(png_file) + " " + shell_quoted(dot_file);
  if (std::system(command.c_str()) == 0)
    std::cout << "rendered " << png_file.string() << std::endl;
  else
    std::cout << "note: `" << command << "` failed: no PNG" << std::endl;
  return true;
}

bool contains(const std::string& text, const char* part)
{
  return text.find(part) != std::string::npos;
}

} // namespace

int main(int argc, char** argv)
{
  std::filesystem::path out_dir = std::filesystem::temp_directory_path() / "coflow-await_tree";
  for (int i = 1; i + 1 < argc; ++i)
  {
    if (std::string(argv[i]) == "--scale")
      scale = std::atof(argv[i + 1]);
    else if (std::string(argv[i]) == "--out")
      out_dir = argv[i + 1];
  }

  asio::io_context io;
  coflow::deferred<void> acknowledged(io);
  goodbye_acknowledged = &acknowledged;

  auto root = coflow::spawn(io, root_process());
  auto dog = coflow::spawn(io, watchdog(root, 60.0));
  bool root_cancelled = false;
  root.async_wait([&](std::exception_ptr e) {
    try
    {
      if (e)
        std::rethrow_exception(e);
    }
    catch (const coflow::cancelled_error&)
    {
      root_cancelled = true;
    }
    catch (const std::exception& x)
    {
      std::cout << "root_process failed: " << x.what() << std::endl;
    }
    dog.cancel(); // nothing left to watch
  });

  // Every coroutine starts and suspends: the workers and the watchdog wait
  // on their timers, which are far away. No thread runs io now, so this one
  // may read the trees (they are taken on the coroutines' executor).
  io.poll();

  root.pause();
  const std::string paused = line_ended(coflow::to_string(coflow::await_tree(root)));
  std::cout << "== await_tree(root), paused:\n" << paused;
  std::cout << "== await_forest(io):\n"
            << line_ended(coflow::to_string(coflow::await_forest(io)));
  const bool dot_written = write_and_render(out_dir, coflow::to_dot(coflow::await_tree(root)));
  root.unpause();

  root.cancel();
  io.poll(); // the workers and level3_process unwind; level2_process says goodbye
  const std::string cancelling = line_ended(coflow::to_string(coflow::await_tree(root)));
  std::cout << "== await_tree(root), cancelled, during the goodbye:\n" << cancelling;

  acknowledged.callback(); // the peer acknowledges: the cleanup ends, then the root
  io.run();

  const bool ok = contains(paused, "root_process") && contains(paused, "level2_process")
      && contains(paused, "level3_process") && contains(paused, "paused")
      && contains(cancelling, "cancelling") && dot_written && root_cancelled;
  std::cout << (ok ? "await_tree: done" : "await_tree: FAILED") << std::endl;
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif // COFLOW_NO_INTROSPECTION
