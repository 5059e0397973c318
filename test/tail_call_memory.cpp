//
// test/tail_call_memory.cpp: 10^7 tail calls in constant memory and stack.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Its own executable: outside the sanitizer builds it counts every malloc of
// the process (by interposing glibc's allocation functions), to show that a
// hop allocates nothing once frame memory is recycled.
//

#define BOOST_TEST_MODULE tail_call_memory
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coroutine.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>

// Sanitizers own malloc: the counts and the RSS check run in the other
// builds (test_support.hpp says which).

namespace {
std::atomic<long> malloc_calls{0};
std::atomic<long> malloc_bytes{0};

[[maybe_unused]] void count(std::size_t n) noexcept
{
  malloc_calls.fetch_add(1, std::memory_order_relaxed);
  malloc_bytes.fetch_add(static_cast<long>(n), std::memory_order_relaxed);
}
} // namespace

#if !defined(COFLOW_TEST_SANITIZED) && defined(__GLIBC__)
constexpr bool counting_mallocs = true;
// glibc's own entry points, under the names it exports for interposers.
extern "C" void* __libc_malloc(std::size_t);
extern "C" void* __libc_calloc(std::size_t, std::size_t);
extern "C" void* __libc_realloc(void*, std::size_t);
extern "C" void* __libc_memalign(std::size_t, std::size_t);

extern "C" void* malloc(std::size_t n)
{
  count(n);
  return __libc_malloc(n);
}
extern "C" void* calloc(std::size_t k, std::size_t n)
{
  count(k * n);
  return __libc_calloc(k, n);
}
extern "C" void* realloc(void* p, std::size_t n)
{
  count(n);
  return __libc_realloc(p, n);
}
extern "C" void* aligned_alloc(std::size_t a, std::size_t n)
{
  count(n);
  return __libc_memalign(a, n);
}
extern "C" void* memalign(std::size_t a, std::size_t n)
{
  count(n);
  return __libc_memalign(a, n);
}
extern "C" int posix_memalign(void** p, std::size_t a, std::size_t n)
{
  count(n);
  *p = __libc_memalign(a, n);
  return *p ? 0 : 12; // ENOMEM
}
#else
constexpr bool counting_mallocs = false;
#endif

namespace asio = boost::asio;
using coflow::coroutine;
using coflow::tail_call;
using coflow_test::peak_rss_kib;

namespace {

/// Counts the frames alive, and the most alive at once.
struct frame_count
{
  static inline long live = 0;
  static inline long peak = 0;
  frame_count() { peak = std::max(peak, ++live); }
  frame_count(const frame_count&) = delete;
  ~frame_count() { --live; }
};

coroutine<int> completed_at_once()
{
  co_return 1;
}

/// n hops; each state awaits an operation that completes at once, then
/// hands over to the next.
coroutine<long> hops(long n, long acc)
{
  frame_count alive;
  acc += co_await completed_at_once();
  if (n == 0)
    co_return acc;
  co_return co_await tail_call(hops(n - 1, acc));
}

} // namespace

BOOST_AUTO_TEST_CASE(ten_million_hops_in_constant_memory_and_stack)
{
  // Runs in the debug (-O0) and asan builds too: the stack stays flat.
  // Under the sanitizers, which count nothing here (test_support.hpp), 10^6
  // hops show that as well as 10^7 (at 16 bytes a hop, a recursion would
  // overflow 8 MiB), in a tenth of the time; under valgrind 10^5.
#if defined(COFLOW_TEST_SANITIZED)
  const long n = 1000000;
#else
  const long n = coflow_test::scaled_for_valgrind(10000000);
#endif
  asio::io_context io;
  frame_count::peak = 0;

  auto warm = coflow::spawn(io, hops(100000, 0), asio::use_future);
  io.run();
  BOOST_TEST(warm.get() == 100001);
  const long rss_after_warm_up = peak_rss_kib();
  const long calls_before = malloc_calls.load();
  const long bytes_before = malloc_bytes.load();

  io.restart();
  auto run = coflow::spawn(io, hops(n, 0), asio::use_future);
  io.run();
  BOOST_TEST(run.get() == n + 1);
  const long calls = malloc_calls.load() - calls_before;
  const long bytes = malloc_bytes.load() - bytes_before;

  BOOST_TEST(frame_count::peak <= 2); // the running state and the next
  BOOST_TEST(frame_count::live == 0);
  if (counting_mallocs)
  {
    BOOST_TEST_MESSAGE(n << " hops: " << calls << " mallocs, " << bytes << " bytes");
    // The spawn and its future allocate a few times; the hops nothing.
    BOOST_TEST(calls < 50);
    BOOST_TEST(bytes < 16384);
  }
  if (coflow_test::memory_figures_are_meaningful)
    BOOST_TEST(peak_rss_kib() - rss_after_warm_up < 1024); // under 1 MiB
}
