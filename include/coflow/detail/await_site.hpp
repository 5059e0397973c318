//
// coflow/detail/await_site.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Where a coroutine's code is, for introspection (DESIGN.md §8): the
// coroutine function (captured once, by the promise's constructor) and the
// co_await where its body is suspended (captured at every co_await, by
// await_transform). Both are default arguments, so the compiler fills them
// in at the call site, as BOOST_CURRENT_LOCATION does; what is kept is
// smaller than a boost::source_location, since a coroutine state pays for
// it: with __builtin_source_location() (g++), a pointer to the compiler's
// static record each; otherwise two pointers for the function and two
// numbers for the co_await. COFLOW_NO_INTROSPECTION removes both, and every
// store.
//

#ifndef COFLOW_DETAIL_AWAIT_SITE_HPP
#define COFLOW_DETAIL_AWAIT_SITE_HPP

#include <boost/assert/source_location.hpp>

#include <cstdint>

#if !defined(COFLOW_NO_INTROSPECTION) && defined(__cpp_lib_source_location) \
    && __cpp_lib_source_location >= 201907L
#include <bit>
#include <source_location>
#define COFLOW_DETAIL_STD_SOURCE_LOCATION 1
#endif

namespace coflow {
namespace detail {

/// The first parameter of the promise's constructor that captures the
/// function: no coroutine's parameter list can match it, so the compiler
/// only ever calls that constructor with its defaults.
struct function_site_tag
{
  explicit function_site_tag() = default;
};

#ifndef COFLOW_NO_INTROSPECTION

// The arguments are scalars: a class-type default argument of await_transform
// is a temporary of the co_await's full expression, which g++ keeps in the
// coroutine frame across the suspension (two more stores per co_await).

#ifdef COFLOW_DETAIL_STD_SOURCE_LOCATION

/// A co_await: the compiler's static record of its location
/// (__builtin_source_location(), what std::source_location::current() keeps).
using await_site = const void*;
#define COFLOW_DETAIL_AWAIT_SITE __builtin_source_location()

/// The coroutine function: the compiler's static record of the location of
/// the promise's construction (its name and file).
class function_site
{
public:
  function_site() noexcept = default;
  explicit function_site(const void* where) noexcept : where_(where) {}

  const char* function_name() const noexcept { return location().function_name(); }
  const char* file_name() const noexcept { return location().file_name(); }

  /// Where a coroutine of this function waits at @p at.
  boost::source_location location_at(await_site at) const noexcept
  {
    const std::source_location a = std::bit_cast<std::source_location>(at);
    return boost::source_location(file_name(), a.line(), function_name(), a.column());
  }

private:
  std::source_location location() const noexcept
  {
    return std::bit_cast<std::source_location>(where_);
  }

  const void* where_ = nullptr;
};

#define COFLOW_DETAIL_FUNCTION_SITE_PARAMETERS \
  const void* coflow_where = __builtin_source_location()
#define COFLOW_DETAIL_FUNCTION_SITE ::coflow::detail::function_site(coflow_where)

#else

/// A co_await: its line (high half) and column.
using await_site = std::uint64_t;
#define COFLOW_DETAIL_AWAIT_SITE \
  (static_cast<std::uint64_t>(__builtin_LINE()) << 32 | __builtin_COLUMN())

/// The coroutine function: its name and file.
class function_site
{
public:
  function_site() noexcept = default;
  function_site(const char* file, const char* function) noexcept
    : file_(file), function_(function)
  {
  }

  const char* function_name() const noexcept { return function_; }
  const char* file_name() const noexcept { return file_; }

  boost::source_location location_at(await_site at) const noexcept
  {
    return boost::source_location(file_, static_cast<std::uint32_t>(at >> 32), function_,
        static_cast<std::uint32_t>(at));
  }

private:
  const char* file_ = "";
  const char* function_ = "";
};

#define COFLOW_DETAIL_FUNCTION_SITE_PARAMETERS \
  const char* coflow_file = __builtin_FILE(), const char* coflow_function = __builtin_FUNCTION()
#define COFLOW_DETAIL_FUNCTION_SITE ::coflow::detail::function_site(coflow_file, coflow_function)

#endif

#else // COFLOW_NO_INTROSPECTION

/// Nothing: introspection is compiled out.
using await_site = int;
#define COFLOW_DETAIL_AWAIT_SITE 0

struct function_site
{
};

#define COFLOW_DETAIL_FUNCTION_SITE_PARAMETERS int = 0
#define COFLOW_DETAIL_FUNCTION_SITE ::coflow::detail::function_site()

#endif

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_AWAIT_SITE_HPP
