//
// coflow/this_coro.hpp
//
// Tags that a coroutine body awaits to learn about itself.
//

#ifndef COFLOW_THIS_CORO_HPP
#define COFLOW_THIS_CORO_HPP

namespace coflow {
namespace this_coro {

/// `co_await coflow::this_coro::executor` gives the coroutine's executor.
/// It never suspends, and is exempt from the sticky cancel.
struct executor_t
{
  constexpr executor_t() noexcept = default;
};

/// The tag object. See executor_t.
inline constexpr executor_t executor{};

} // namespace this_coro
} // namespace coflow

#endif // COFLOW_THIS_CORO_HPP
