//
// coflow/coflow.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// Includes every public header of coflow.
//
// Example (asio is boost::asio):
//
// @code
// coflow::coroutine<int> after(asio::steady_timer& timer, int v)
// {
//   co_await timer.async_wait(coflow::use_coroutine);
//   co_return v;
// }
//
// asio::io_context io;
// asio::steady_timer timer(io, std::chrono::milliseconds(1));
// coflow::coroutine<int> c = coflow::spawn(io, after(timer, 42));
// c.pause();                                     // holds it...
// asio::steady_timer release(io, std::chrono::milliseconds(5));
// release.async_wait([&](auto) { c.unpause(); });  // ...until 5 ms
// std::future<int> f = c.async_wait(asio::use_future);
// io.run();              // f.get() == 42, not before 5 ms
// @endcode
//

#ifndef COFLOW_COFLOW_HPP
#define COFLOW_COFLOW_HPP

#ifndef COFLOW_NO_INTROSPECTION
#include <coflow/await_tree.hpp>
#endif
#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/error.hpp>
#include <coflow/gather.hpp>
#include <coflow/join.hpp>
#include <coflow/race.hpp>
#include <coflow/shield.hpp>
#include <coflow/sleep.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>
#include <coflow/task_group.hpp>
#include <coflow/timeout.hpp>
#include <coflow/this_coro.hpp>
#include <coflow/unhandled_error.hpp>
#include <coflow/use_coroutine.hpp>
#include <coflow/use_deferred.hpp>

#endif // COFLOW_COFLOW_HPP
