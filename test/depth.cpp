//
// test/depth.cpp: every cascade runs in constant stack at any depth
// (DESIGN.md section 4, "Lifetime and threads": "every cascade (pause,
// unpause, cancel, context destruction, deferred chaining, tail-call chains)
// runs in constant stack at any depth (10^6 levels, in every build type)").
//
// Each scenario builds a chain of 10^3, 10^4 and 10^5 levels (and 10^6 with
// `./depth -- --full`, or COFLOW_DEPTH_FULL=1) and drives one cascade through it. The chain
// runs on a thread with a 1 MiB stack, an eighth of the usual 8 MiB: 10^5
// levels overflow it wherever a cascade recurses (any call frame takes more
// than 11 bytes), as 10^6 levels overflow 8 MiB, in a tenth of the time.
// Each depth runs in a child process forked for it, so that a stack overflow
// (SIGSEGV) fails that depth alone and the others still report; the child
// has a time budget (SIGALRM). COFLOW_DEPTH_NO_FORK=1 runs in this process,
// for a debugger:
//
//   COFLOW_DEPTH_NO_FORK=1 gdb -batch -ex run -ex bt --args ./depth
//       --run_test=recursion_cancel --catch_system_errors=no
//
// COFLOW_DEPTH_MAX=n and COFLOW_DEPTH_STACK_KIB=n change the bounds.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#define BOOST_TEST_MODULE depth
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/error.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>

#include <boost/asio/io_context.hpp>

#include <malloc.h>
#include <pthread.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#if defined(COFLOW_TEST_LSAN)
#include <sanitizer/lsan_interface.h>
#endif

namespace asio = boost::asio;
using coflow::coroutine;
using coflow::deferred;
using coflow_test::holds;
using coflow_test::on_valgrind;
using coflow_test::run_until_quiet;

namespace {

// --- frames, counted ------------------------------------------------------------

/// Bodies made, destroyed, and alive: every body below holds a `counted`.
struct frame_count
{
  static inline long made = 0;
  static inline long gone = 0;
  static long live() { return made - gone; }
  static void reset()
  {
    made = 0;
    gone = 0;
  }
};

struct counted
{
  counted() noexcept { ++frame_count::made; }
  counted(const counted&) = delete;
  ~counted() { ++frame_count::gone; }
};

/// n levels of children awaited inline, down to @p leaf.
coroutine<int> rec(int n, deferred<int> leaf)
{
  counted c;
  if (n == 0)
    co_return co_await leaf;
  co_return 1 + co_await rec(n - 1, leaf);
}

/// n tail calls to started next states, down to @p leaf.
coroutine<int> hop(int n, deferred<int> leaf)
{
  counted c;
  if (n == 0)
    co_return co_await leaf;
  auto next = coflow::spawn(co_await coflow::this_coro::executor, hop(n - 1, leaf));
  co_return co_await coflow::tail_call(std::move(next));
}

/// n levels of a coroutine awaiting a deferred (a then() of a started child)
/// awaiting a coroutine..., down to @p leaf.
coroutine<int> mixed(int n, deferred<int> leaf)
{
  counted c;
  if (n == 0)
    co_return co_await leaf;
  auto child = coflow::spawn(co_await coflow::this_coro::executor, mixed(n - 1, leaf));
  co_return co_await child.then([](int v) { return v + 1; });
}

// --- checks inside a child process ---------------------------------------------

bool checks_passed = true;

void check(bool ok, const char* what, int line)
{
  if (ok)
    return;
  checks_passed = false;
  std::fprintf(stderr, "depth.cpp(%d): check failed: %s\n", line, what);
}

#define DEPTH_CHECK(cond) check((cond), #cond, __LINE__)

using received = coflow_test::received<int>;

/// A leaf that counts the calls of its canceller.
struct leaf_state
{
  int cancels = 0;
  deferred<int> d;

  explicit leaf_state(asio::io_context& io)
    : d(io, [this](deferred<int>&) { ++cancels; })
  {
  }
};

/// Bytes in use on the heap (glibc), 0 where that says nothing.
long heap_in_use()
{
  if (!coflow_test::memory_figures_are_meaningful)
    return 0;
  return static_cast<long>(mallinfo2().uordblks);
}

// --- depths and isolation ---------------------------------------------------------

bool full_run()
{
  auto& master = boost::unit_test::framework::master_test_suite();
  for (int i = 1; i < master.argc; ++i)
    if (std::string(master.argv[i]) == "--full")
      return true;
  const char* env = std::getenv("COFLOW_DEPTH_FULL");
  return env && *env && std::string(env) != "0";
}

/// 10^3 .. 10^5 by default, on a bounded stack (see stack_bytes()); 10^6
/// too with --full (in every build: under ASan a case takes 2 to 15 s at
/// 10^6); under valgrind 10^4, or 10^5 with --full. COFLOW_DEPTH_MAX=n sets
/// the bound.
std::vector<int> depths()
{
  long max = full_run() ? 1000000 : 100000;
  if (on_valgrind())
    max /= 10;
  if (const char* env = std::getenv("COFLOW_DEPTH_MAX"))
    max = std::atol(env);
  std::vector<int> v;
  for (long d = 1000; d <= max; d *= 10)
    v.push_back(static_cast<int>(d));
  return v;
}

/// The stack that a chain runs on, in bytes: 1 MiB, an eighth of the usual
/// main thread's, so that 10^5 levels overflow it wherever a cascade
/// recurses with 11 bytes of stack per level or more (any real call frame
/// takes more: a return address and a saved register), as 10^6 levels
/// overflow 8 MiB. COFLOW_DEPTH_STACK_KIB=n sets it.
std::size_t stack_bytes()
{
  std::size_t kib = 1024;
  if (const char* env = std::getenv("COFLOW_DEPTH_STACK_KIB"))
    kib = static_cast<std::size_t>(std::atol(env));
  return kib * 1024;
}

/// Runs @p f on a thread whose stack has stack_bytes().
template <class Function>
void run_on_bounded_stack(Function& f)
{
  struct call
  {
    static void* run(void* p)
    {
      try
      {
        (*static_cast<Function*>(p))();
      }
      catch (const std::exception& e)
      {
        std::fprintf(stderr, "depth: the scenario threw: %s\n", e.what());
        checks_passed = false;
      }
      return nullptr;
    }
  };
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_bytes());
  pthread_t thread;
  const int rc = pthread_create(&thread, &attr, &call::run, &f);
  pthread_attr_destroy(&attr);
  if (rc != 0)
  {
    std::fprintf(stderr, "depth: pthread_create failed (%d)\n", rc);
    checks_passed = false;
    return;
  }
  pthread_join(thread, nullptr);
}

/// The time budget of one depth, in seconds (SIGALRM ends the child).
unsigned budget_seconds()
{
  if (const char* env = std::getenv("COFLOW_DEPTH_BUDGET"))
    return static_cast<unsigned>(std::atoi(env));
  return on_valgrind() ? 600 : 120;
}

/// Under valgrind, in this process: valgrind would check every child's
/// memory at its _exit, with every object of the test still alive.
bool no_fork()
{
  const char* env = std::getenv("COFLOW_DEPTH_NO_FORK");
  return on_valgrind() || (env && *env && std::string(env) != "0");
}

/// Runs @p body(depth) for every depth, each in a child process, and
/// reports one line per depth: pass, failed checks, stack overflow, ...
template <class Body>
void for_each_depth(const char* scenario, Body body)
{
  for (int depth : depths())
  {
    const auto start = std::chrono::steady_clock::now();
    std::string what;
    bool passed = false;
    auto run = [&] {
      checks_passed = true;
      frame_count::reset();
      auto scenario_at_depth = [&] { body(depth); };
      run_on_bounded_stack(scenario_at_depth);
    };
    if (no_fork())
    {
      run();
      passed = checks_passed;
      what = passed ? "pass" : "checks failed";
    }
    else
    {
      std::fflush(stdout);
      std::fflush(stderr);
      const pid_t pid = fork();
      BOOST_TEST_REQUIRE(pid >= 0);
      if (pid == 0)
      {
        // Boost.Test's monitor would catch a crash and go on with the next
        // test case, in the child: a crash ends the child instead.
        for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM})
          std::signal(sig, SIG_DFL);
        alarm(budget_seconds());
        run();
#if defined(COFLOW_TEST_LSAN)
        if (__lsan_do_recoverable_leak_check() != 0)
          checks_passed = false;
#endif
        std::fflush(stdout);
        std::fflush(stderr);
        _exit(checks_passed ? 0 : 1);
      }
      int status = 0;
      while (waitpid(pid, &status, 0) < 0)
      {
      }
      if (WIFEXITED(status))
      {
        passed = WEXITSTATUS(status) == 0;
        what = passed ? "pass"
                      : "checks failed (exit status "
                + std::to_string(WEXITSTATUS(status)) + ")";
      }
      else if (WIFSIGNALED(status))
      {
        const int sig = WTERMSIG(status);
        what = sig == SIGSEGV ? "SIGSEGV (stack overflow?)"
            : sig == SIGALRM  ? "timeout (" + std::to_string(budget_seconds()) + " s)"
            : sig == SIGABRT  ? "SIGABRT"
                              : "signal " + std::to_string(sig);
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char line[200];
    std::snprintf(line, sizeof line, "%-34s depth %8d: %s (%.2f s)", scenario, depth,
        what.c_str(), seconds);
    BOOST_TEST_MESSAGE(line);
    BOOST_TEST(passed, scenario << " at depth " << depth << ": " << what);
  }
}

/// Spawns rec(depth) and runs it until the whole chain waits on the leaf.
struct recursion
{
  asio::io_context io;
  leaf_state leaf{io};
  /// Outlives the context: a consumer called during its destruction is seen.
  received& result;
  coroutine<int> root;

  recursion(int depth, received& r) : result(r)
  {
    root = coflow::spawn(io, rec(depth, leaf.d));
    root.async_wait(result.handler());
    run_until_quiet(io);
    DEPTH_CHECK(frame_count::live() == depth + 1);
    DEPTH_CHECK(!root.called());
  }
};

void check_all_frames_gone_once(int depth)
{
  DEPTH_CHECK(frame_count::made == depth + 1);
  DEPTH_CHECK(frame_count::gone == depth + 1);
}

} // namespace

// (a) pause and unpause of the root reach the leaf and come back; the held
// result is delivered on the unpause.
BOOST_AUTO_TEST_CASE(recursion_pause_unpause)
{
  for_each_depth("(a) recursion: pause, unpause", [](int depth) {
    received result;
    recursion r(depth, result);
    r.root.pause();
    DEPTH_CHECK(r.leaf.d.pause_count() == 1u); // forwarded down to the leaf
    r.leaf.d.callback(7);
    run_until_quiet(r.io);
    DEPTH_CHECK(r.result.calls == 0); // held
    r.root.unpause();
    DEPTH_CHECK(r.leaf.d.pause_count() == 0u);
    run_until_quiet(r.io);
    DEPTH_CHECK(r.result.calls == 1);
    DEPTH_CHECK(!r.result.error);
    DEPTH_CHECK(r.result.value == depth + 7);
    check_all_frames_gone_once(depth);
  });
}

// (b) cancel of the root unwinds every level, innermost first.
BOOST_AUTO_TEST_CASE(recursion_cancel)
{
  for_each_depth("(b) recursion: cancel", [](int depth) {
    received result;
    recursion r(depth, result);
    r.root.cancel();
    run_until_quiet(r.io);
    DEPTH_CHECK(r.leaf.cancels == 1);
    DEPTH_CHECK(r.result.calls == 1);
    DEPTH_CHECK(holds<coflow::cancelled_error>(r.result.error));
    check_all_frames_gone_once(depth);
  });
}

// (c) cancel while paused: the pause is released at every level, the cancel
// goes through, and a later unpause balances the count without error.
BOOST_AUTO_TEST_CASE(recursion_cancel_while_paused)
{
  for_each_depth("(c) recursion: cancel while paused", [](int depth) {
    received result;
    recursion r(depth, result);
    r.root.pause();
    DEPTH_CHECK(r.leaf.d.pause_count() == 1u);
    r.root.cancel();
    DEPTH_CHECK(r.leaf.d.pause_count() == 0u); // nothing stays paused
    run_until_quiet(r.io);
    DEPTH_CHECK(r.leaf.cancels == 1);
    DEPTH_CHECK(r.result.calls == 1);
    DEPTH_CHECK(holds<coflow::cancelled_error>(r.result.error));
    check_all_frames_gone_once(depth);
    r.root.unpause();
    DEPTH_CHECK(r.root.pause_count() == 0u);
  });
}

// (d) destroying the context destroys every suspended frame once.
BOOST_AUTO_TEST_CASE(recursion_context_destroyed)
{
  for_each_depth("(d) recursion: context destroyed", [](int depth) {
    received result;
    {
      recursion r(depth, result);
    }
    DEPTH_CHECK(result.calls == 0);
    DEPTH_CHECK(frame_count::live() == 0);
    check_all_frames_gone_once(depth);
  });
}

namespace {

/// Spawns hop(depth) and runs it until the last state waits on the leaf.
struct hops
{
  asio::io_context io;
  leaf_state leaf{io};
  /// Outlives the context: a consumer called during its destruction is seen.
  received& result;
  coroutine<int> root;
  long bytes_per_hop = 0;

  hops(int depth, received& r) : result(r)
  {
    const long before = heap_in_use();
    root = coflow::spawn(io, hop(depth, leaf.d));
    root.async_wait(result.handler());
    run_until_quiet(io);
    bytes_per_hop = (heap_in_use() - before) / depth;
    // Every state's frame is released by its tail call: only the last one,
    // which waits on the leaf, is alive.
    DEPTH_CHECK(frame_count::made == depth + 1);
    DEPTH_CHECK(frame_count::live() == 1);
    DEPTH_CHECK(!root.called());
  }
};

} // namespace

// (e) a chain of tail calls to started coroutines: pause and unpause of the
// root reach the leaf; the leaf's result is the root's. The chain's memory
// per hop is printed (DESIGN: where nobody else holds the intermediate
// coroutines, the chain collapses to constant memory in total).
BOOST_AUTO_TEST_CASE(tail_calls_pause_unpause)
{
  for_each_depth("(e) tail calls: pause, unpause", [](int depth) {
    received result;
    hops h(depth, result);
    if (coflow_test::memory_figures_are_meaningful && !on_valgrind())
    {
      std::printf("depth: (e) tail calls, depth %d: %ld bytes per hop held\n", depth,
          h.bytes_per_hop);
      // Not checked by default: the chain does not collapse yet (each hop
      // holds its coroutine state, its block, a shared state and a tail source).
      if (std::getenv("COFLOW_DEPTH_EXPECT_COLLAPSE"))
        DEPTH_CHECK(h.bytes_per_hop < 16);
    }
    h.root.pause();
    DEPTH_CHECK(h.leaf.d.pause_count() == 1u);
    h.leaf.d.callback(7);
    run_until_quiet(h.io);
    DEPTH_CHECK(h.result.calls == 0); // held
    h.root.unpause();
    DEPTH_CHECK(h.leaf.d.pause_count() == 0u);
    run_until_quiet(h.io);
    DEPTH_CHECK(h.result.calls == 1);
    DEPTH_CHECK(!h.result.error);
    DEPTH_CHECK(h.result.value == 7);
    check_all_frames_gone_once(depth);
  });
}

BOOST_AUTO_TEST_CASE(tail_calls_cancel)
{
  for_each_depth("(e) tail calls: cancel", [](int depth) {
    received result;
    hops h(depth, result);
    h.root.cancel();
    run_until_quiet(h.io);
    DEPTH_CHECK(h.leaf.cancels == 1);
    DEPTH_CHECK(h.result.calls == 1);
    DEPTH_CHECK(holds<coflow::cancelled_error>(h.result.error));
    check_all_frames_gone_once(depth);
  });
}

BOOST_AUTO_TEST_CASE(tail_calls_context_destroyed)
{
  for_each_depth("(e) tail calls: context destroyed", [](int depth) {
    received result;
    {
      hops h(depth, result);
    }
    DEPTH_CHECK(result.calls == 0);
    check_all_frames_gone_once(depth);
  });
}

namespace {

/// Spawns mixed(depth) and runs it until the whole chain waits on the leaf.
struct mixed_chain
{
  asio::io_context io;
  leaf_state leaf{io};
  /// Outlives the context: a consumer called during its destruction is seen.
  received& result;
  coroutine<int> root;

  mixed_chain(int depth, received& r) : result(r)
  {
    root = coflow::spawn(io, mixed(depth, leaf.d));
    root.async_wait(result.handler());
    run_until_quiet(io);
    DEPTH_CHECK(frame_count::live() == depth + 1);
    DEPTH_CHECK(!root.called());
  }
};

} // namespace

// (f) coroutine -> deferred -> coroutine -> ...: the leaf's result climbs
// the chain; a cancel of the root goes down to the leaf.
BOOST_AUTO_TEST_CASE(mixed_chain_fire)
{
  for_each_depth("(f) mixed chain: fire", [](int depth) {
    received result;
    mixed_chain m(depth, result);
    m.leaf.d.callback(7);
    run_until_quiet(m.io);
    DEPTH_CHECK(m.result.calls == 1);
    DEPTH_CHECK(!m.result.error);
    DEPTH_CHECK(m.result.value == depth + 7);
    check_all_frames_gone_once(depth);
  });
}

BOOST_AUTO_TEST_CASE(mixed_chain_cancel)
{
  for_each_depth("(f) mixed chain: cancel", [](int depth) {
    received result;
    mixed_chain m(depth, result);
    m.root.cancel();
    run_until_quiet(m.io);
    DEPTH_CHECK(m.leaf.cancels == 1);
    DEPTH_CHECK(m.result.calls == 1);
    DEPTH_CHECK(holds<coflow::cancelled_error>(m.result.error));
    check_all_frames_gone_once(depth);
  });
}

BOOST_AUTO_TEST_CASE(mixed_chain_context_destroyed)
{
  for_each_depth("(f) mixed chain: context destroyed", [](int depth) {
    received result;
    {
      mixed_chain m(depth, result);
    }
    DEPTH_CHECK(result.calls == 0);
    check_all_frames_gone_once(depth);
  });
}
