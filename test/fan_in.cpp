//
// test/fan_in.cpp: a node that waits on several children at once, built on
// the core's own pieces only (cascade_awaiter, result_sink, set_sink(),
// for_each_awaited()), as the combinators of DESIGN.md §7 will be: no shared
// deferred state per branch, the cascade reaching every child, cycles found
// through it, nothing leaked at shutdown.
//
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)

#define BOOST_TEST_MODULE fan_in
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <typeinfo>
#include <stdexcept>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using coflow::coroutine;
using coflow_test::holds;

namespace {

namespace detail = coflow::detail;

/// Awaits every child, started here as spawned coroutines of the awaiting
/// body's executor, each delivering into a branch of this node.
template <class CoroState, class T, class E>
class fan_in_awaiter final : public detail::cascade_awaiter<fan_in_awaiter<CoroState, T, E>, CoroState>
{
public:
  fan_in_awaiter(CoroState* t, std::vector<coroutine<T, E>> children)
    : fan_in_awaiter::cascade_awaiter(t), children_(std::move(children)),
      branches_(children_.size())
  {
    for (auto& b : branches_)
      b.node = this;
  }

  fan_in_awaiter(fan_in_awaiter&& other) noexcept
    : fan_in_awaiter::cascade_awaiter(other.coro_), children_(std::move(other.children_)),
      branches_(std::move(other.branches_))
  {
    for (auto& b : branches_)
      b.node = this;
  }

  bool ready() const noexcept { return children_.empty(); }

  void hand_over(coflow::detail::resume_token&& token)
  {
    waiting_ = std::move(token);
    left_.store(static_cast<unsigned>(children_.size()), std::memory_order_relaxed);
    for (std::size_t i = 0; i < children_.size(); ++i)
    {
      auto& child = detail::coroutine_access::state_of(children_[i]);
      child.prepare_posted_start(this->coro_->executor());
      if (!child.accepts_sink()) // (Boost.Test is not for pool threads)
        throw std::logic_error("fan_in: a started child cannot deliver into a branch");
      child.set_sink(&branches_[i]);
      child.post_start();
    }
  }

  std::vector<T> take()
  {
    std::vector<T> values;
    for (auto& b : branches_)
      values.push_back(detail::unwrap<T>(std::move(*b.result)));
    return values;
  }

  void for_each_awaited(detail::awaited_visitor& visit) const noexcept override
  {
    for (const auto& c : children_)
      visit(detail::coroutine_access::state_pointer(c));
  }

  detail::awaited_description describe() const noexcept override
  {
    return {detail::awaited_kind::fan_in};
  }

  void pause() override
  {
    for (auto& c : children_)
      c.pause();
  }
  void unpause() override
  {
    for (auto& c : children_)
      c.unpause();
  }
  void cancel() override
  {
    for (auto& c : children_)
      c.cancel();
  }

private:
  struct branch final : detail::result_sink<T>
  {
    fan_in_awaiter* node = nullptr;
    std::optional<detail::outcome<T>> result;

    void receive(detail::outcome<T> r) override { result.emplace(std::move(r)); }
    void delivered() noexcept override
    {
      if (node->left_.fetch_sub(1, std::memory_order_acq_rel) == 1)
        std::move(node->waiting_).resume();
    }
    detail::resume_token abandoned() noexcept override
    {
      if (node->left_.fetch_sub(1, std::memory_order_acq_rel) == 1)
        return std::move(node->waiting_);
      return {};
    }
  };

  std::vector<coroutine<T, E>> children_;
  std::vector<branch> branches_;
  std::atomic<unsigned> left_{0};
  detail::resume_token waiting_;
};

template <class T, class E>
struct fan_in
{
  std::vector<coroutine<T, E>> children;

  template <class CoroState>
  fan_in_awaiter<CoroState, T, E> awaiter_for(CoroState* t) &&
  {
    return {t, std::move(children)};
  }
};

template <class T, class E>
fan_in<T, E> all_of(std::vector<coroutine<T, E>> children)
{
  return {std::move(children)};
}

coroutine<int> after(asio::io_context& io, int ms, int value)
{
  asio::steady_timer timer(io, std::chrono::milliseconds(ms));
  co_await timer.async_wait(coflow::use_coroutine);
  co_return value;
}

coroutine<int> waits_forever(std::shared_ptr<int> alive)
{
  coflow::deferred<int> never(co_await coflow::this_coro::executor);
  co_return co_await never + *alive;
}

} // namespace

BOOST_AUTO_TEST_SUITE(fan_in_node)

BOOST_AUTO_TEST_CASE(results_in_order_after_the_last_child)
{
  asio::io_context io;
  int resumed = 0;
  auto parent = [&]() -> coroutine<int> {
    std::vector<coroutine<int>> cs;
    cs.push_back(after(io, 30, 1));
    cs.push_back(after(io, 0, 2));
    cs.push_back(after(io, 10, 3));
    std::vector<int> v = co_await all_of(std::move(cs));
    ++resumed;
    co_return v[0] * 100 + v[1] * 10 + v[2];
  };
  auto f = coflow::spawn(io, parent(), asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 123);
  BOOST_TEST(resumed == 1);
}

BOOST_AUTO_TEST_CASE(on_a_thread_pool_without_a_strand)
{
  for (int round = 0; round < 200; ++round)
  {
    asio::thread_pool pool(2);
    auto leaf = [](int i) -> coroutine<int> {
      co_await asio::post(co_await coflow::this_coro::executor, coflow::use_coroutine);
      co_return i;
    };
    auto parent = [&]() -> coroutine<int> {
      std::vector<coroutine<int>> cs;
      for (int i = 0; i < 8; ++i)
        cs.push_back(leaf(i));
      int sum = 0;
      for (int v : co_await all_of(std::move(cs)))
        sum += v;
      co_return sum;
    };
    auto f = coflow::spawn(pool, parent(), asio::use_future);
    BOOST_TEST(f.get() == 28);
    pool.join();
  }
}

BOOST_AUTO_TEST_CASE(pause_and_cancel_reach_every_child)
{
  asio::io_context io;
  auto alive = std::make_shared<int>(0);
  std::vector<coroutine<int>> cs{waits_forever(alive), waits_forever(alive)};
  std::vector<coroutine<int>> handles = cs;
  auto parent = [](std::vector<coroutine<int>> cs) -> coroutine<int> {
    auto v = co_await all_of(std::move(cs));
    co_return v[0] + v[1];
  };
  auto p = coflow::spawn(io, parent(std::move(cs)));
  io.poll();
  p.pause();
  BOOST_TEST(handles[0].pause_count() == 1u);
  BOOST_TEST(handles[1].pause_count() == 1u);
  p.unpause();
  BOOST_TEST(handles[0].pause_count() == 0u);
  BOOST_TEST(handles[1].pause_count() == 0u);
  std::exception_ptr error;
  p.async_wait([&](std::exception_ptr e, int) { error = e; });
  asio::post(io, [&] { p.cancel(); });
  io.run();
  BOOST_TEST(holds<coflow::cancelled_error>(error));
  BOOST_TEST(handles[0].called());
  BOOST_TEST(handles[1].called());
}

BOOST_AUTO_TEST_CASE(a_cycle_through_a_branch_is_refused)
{
  asio::io_context io;
  coroutine<int> parent_handle;
  std::exception_ptr seen;
  auto child = [&]() -> coroutine<int> {
    co_await asio::post(io, coflow::use_coroutine); // the parent waits on the node by now
    try
    {
      co_return co_await parent_handle.as_deferred(); // waits on its own awaiter
    }
    catch (const std::logic_error&)
    {
      seen = std::current_exception();
    }
    co_return 7;
  };
  auto parent = [&]() -> coroutine<int> {
    std::vector<coroutine<int>> cs;
    cs.push_back(child());
    auto v = co_await all_of(std::move(cs));
    co_return v[0];
  };
  parent_handle = coflow::spawn(io, parent());
  auto f = parent_handle.async_wait(asio::use_future);
  io.run();
  BOOST_TEST(f.get() == 7);
  BOOST_REQUIRE(seen);
  try
  {
    std::rethrow_exception(seen);
  }
  catch (const std::logic_error& e)
  {
    BOOST_TEST(std::string(e.what()) == "coflow: a cycle of coroutines awaiting each other");
  }
}

BOOST_AUTO_TEST_CASE(shutdown_destroys_every_frame)
{
  auto alive = std::make_shared<int>(0);
  {
    asio::io_context io;
    auto parent = [](std::shared_ptr<int> alive) -> coroutine<int> {
      std::vector<coroutine<int>> cs{waits_forever(alive), waits_forever(alive)};
      auto v = co_await all_of(std::move(cs));
      co_return v[0];
    };
    coflow::spawn(io, parent(alive), asio::detached);
    io.poll();
    BOOST_TEST(alive.use_count() > 1);
  }
  BOOST_TEST(alive.use_count() == 1); // every frame that held it is gone
}

BOOST_AUTO_TEST_SUITE_END()

// The hook that introspection (DESIGN.md §8) reads: what each suspended body
// says it waits on, and the coroutines it names.
BOOST_AUTO_TEST_SUITE(awaited_description)

namespace {

struct collect final : detail::awaited_visitor
{
  std::vector<const detail::coroutine_state_base*> seen;
  void operator()(const detail::coroutine_state_base* t) noexcept override { seen.push_back(t); }
};

/// What the suspended coroutine @p c awaits, as it describes itself.
template <class T>
detail::awaited_description awaited_of(const coroutine<T>& c, collect* visit = nullptr)
{
  const detail::awaited_control* a = detail::coroutine_access::state_pointer(c)->awaited();
  BOOST_REQUIRE(a);
  if (visit)
    a->for_each_awaited(*visit);
  return a->describe();
}

} // namespace

BOOST_AUTO_TEST_CASE(each_kind_says_what_it_is)
{
  asio::io_context io;
  asio::steady_timer timer(io, std::chrono::hours(1));
  coflow::deferred<int> never(io);

  auto on_timer = [&]() -> coroutine<int> {
    co_await timer.async_wait(coflow::use_coroutine);
    co_return 1;
  };
  auto on_deferred = [&]() -> coroutine<int> { co_return co_await never; };
  auto on_awaitable = [&]() -> coroutine<int> {
    co_return co_await [&]() -> asio::awaitable<int> {
      co_await timer.async_wait(asio::use_awaitable);
      co_return 2;
    }();
  };
  auto leaf = coflow::spawn(io, on_deferred());
  auto on_child = [&]() -> coroutine<int> { co_return co_await leaf; };
  auto on_tail = [&]() -> coroutine<int> { co_return co_await coflow::tail_call(leaf); };

  auto a = coflow::spawn(io, on_timer());
  auto b = coflow::spawn(io, on_deferred());
  auto c = coflow::spawn(io, on_awaitable());
  auto d = coflow::spawn(io, on_child());
  auto e = coflow::spawn(io, on_tail());
  io.poll();

  auto da = awaited_of(a);
  BOOST_TEST((da.kind == detail::awaited_kind::operation));
  BOOST_REQUIRE(da.signature);
  BOOST_TEST((*da.signature == typeid(void(boost::system::error_code))));
  BOOST_TEST(!da.tail_call);

  BOOST_TEST((awaited_of(b).kind == detail::awaited_kind::deferred));

  auto dc = awaited_of(c);
  BOOST_TEST((dc.kind == detail::awaited_kind::awaitable));
  BOOST_REQUIRE(dc.signature);
  BOOST_TEST((*dc.signature == typeid(void(std::exception_ptr, int))));

  collect child_seen;
  BOOST_TEST((awaited_of(d, &child_seen).kind == detail::awaited_kind::coroutine));
  BOOST_TEST(child_seen.seen.size() == 1u);
  BOOST_TEST(child_seen.seen.at(0) == detail::coroutine_access::state_pointer(leaf));

  collect tail_seen;
  auto de = awaited_of(e, &tail_seen);
  BOOST_TEST(de.tail_call);
  BOOST_TEST(tail_seen.seen.size() == 1u);
  BOOST_TEST(tail_seen.seen.at(0) == detail::coroutine_access::state_pointer(leaf));

  std::exception_ptr ea, ec;
  a.async_wait([&](std::exception_ptr x, int) { ea = x; });
  c.async_wait([&](std::exception_ptr x, int) { ec = x; });
  timer.cancel();
  never.callback(3);
  io.run();
  BOOST_TEST(leaf.called());
  BOOST_TEST(holds<boost::system::system_error>(ea)); // the timer's operation_aborted
  BOOST_TEST(holds<boost::system::system_error>(ec));
}

BOOST_AUTO_TEST_SUITE_END()
