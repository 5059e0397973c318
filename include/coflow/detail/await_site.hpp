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
// it: with std::source_location (g++), a pointer to the compiler's static
// record each; otherwise two pointers for the function and two numbers for
// the co_await. COFLOW_NO_INTROSPECTION removes both, and every store.
//

#ifndef COFLOW_DETAIL_AWAIT_SITE_HPP
#define COFLOW_DETAIL_AWAIT_SITE_HPP

#include <boost/assert/source_location.hpp>

#include <cstdint>

#if !defined(COFLOW_NO_INTROSPECTION) && defined(__cpp_lib_source_location) \
    && __cpp_lib_source_location >= 201907L
#include <source_location>
#define COFLOW_DETAIL_STD_SOURCE_LOCATION 1
#endif

namespace coflow {
namespace detail {

#ifndef COFLOW_NO_INTROSPECTION

#ifdef COFLOW_DETAIL_STD_SOURCE_LOCATION

/// The coroutine function: its name and file.
class function_site
{
public:
  constexpr function_site() noexcept = default;
  explicit constexpr function_site(std::source_location where) noexcept : where_(where) {}

  const char* function_name() const noexcept { return where_.function_name(); }
  const char* file_name() const noexcept { return where_.file_name(); }

private:
  std::source_location where_;
};

/// A co_await in a coroutine function: its line and column.
class await_site
{
public:
  constexpr await_site() noexcept = default;
  explicit constexpr await_site(std::source_location where) noexcept : where_(where) {}

  std::uint32_t line() const noexcept { return where_.line(); }
  std::uint32_t column() const noexcept { return where_.column(); }

private:
  std::source_location where_;
};

#define COFLOW_DETAIL_FUNCTION_SITE \
  ::coflow::detail::function_site(::std::source_location::current())
#define COFLOW_DETAIL_AWAIT_SITE ::coflow::detail::await_site(::std::source_location::current())

#else

class function_site
{
public:
  constexpr function_site() noexcept = default;
  constexpr function_site(const char* file, const char* function) noexcept
    : file_(file), function_(function)
  {
  }

  const char* function_name() const noexcept { return function_; }
  const char* file_name() const noexcept { return file_; }

private:
  const char* file_ = "";
  const char* function_ = "";
};

class await_site
{
public:
  constexpr await_site() noexcept = default;
  constexpr await_site(std::uint32_t line, std::uint32_t column) noexcept
    : line_(line), column_(column)
  {
  }

  std::uint32_t line() const noexcept { return line_; }
  std::uint32_t column() const noexcept { return column_; }

private:
  std::uint32_t line_ = 0;
  std::uint32_t column_ = 0;
};

#define COFLOW_DETAIL_FUNCTION_SITE \
  ::coflow::detail::function_site(__builtin_FILE(), __builtin_FUNCTION())
#define COFLOW_DETAIL_AWAIT_SITE ::coflow::detail::await_site(__builtin_LINE(), __builtin_COLUMN())

#endif

/// The location a tree shows for a coroutine of @p function suspended at
/// @p at.
inline boost::source_location location_of(const function_site& function, const await_site& at)
{
  return boost::source_location(
      function.file_name(), at.line(), function.function_name(), at.column());
}

#else // COFLOW_NO_INTROSPECTION

/// Nothing: introspection is compiled out.
struct function_site
{
};
struct await_site
{
};
#define COFLOW_DETAIL_FUNCTION_SITE ::coflow::detail::function_site()
#define COFLOW_DETAIL_AWAIT_SITE ::coflow::detail::await_site()

#endif

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_AWAIT_SITE_HPP
