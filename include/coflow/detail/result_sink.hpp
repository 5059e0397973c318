//
// coflow/detail/result_sink.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Where a coroutine delivers its result directly, without a shared state:
// the source of a tail call (which then resumes the coroutine that made it,
// through its token), or a branch of a node that waits on several children
// (which counts them, and resumes its own awaiter after the last).
//

#ifndef COFLOW_DETAIL_RESULT_SINK_HPP
#define COFLOW_DETAIL_RESULT_SINK_HPP

#include <coflow/detail/outcome.hpp>
#include <coflow/detail/coroutine_state_base.hpp>

namespace coflow {
namespace detail {

/// The continuation of a spawned coroutine that is not a coroutine state: see the file
/// comment, and coroutine_state<T, Executor>::set_sink(). Called on the coroutine's
/// executor, inside a pump: a resumption it requests runs after it.
template <class T>
class result_sink
{
public:
  /// The coroutine's result: moved out when no other handle may read it.
  virtual void receive(outcome<T> result) = 0;

  /// After receive(), once the coroutine needs the sink no more (a sink
  /// given with a continuation token is resumed through the token instead).
  virtual void delivered() noexcept {}

  /// The coroutine was abandoned (its context shut down) and delivers
  /// nothing. @returns a token for the caller to abandon next (in its loop:
  /// a chain of any depth goes in constant stack), or an empty one.
  virtual resume_token abandoned() noexcept { return {}; }

protected:
  ~result_sink() = default;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_RESULT_SINK_HPP
