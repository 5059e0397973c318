//
// test/stress/chaos.cpp: random trees of coroutines under random pause,
// unpause and cancel, on a 2-thread pool with strands and on a
// single-threaded io_context.
//
// Usage: chaos [--long] [--seed N]
//   default: a short run for CI; --long: many more rounds (figures printed).
//
// Each round spawns roots whose bodies are random trees (depth up to 8) of:
// child coroutines, deferreds with and without cancellers (fired later from
// their executor), timers through use_coroutine, asio::awaitables, tail
// calls, and children spawned on another strand and awaited. A driver per
// root and per remote child, on a strand of its own choice (often another),
// posts random pause / unpause / cancel to it at random moments. After every
// round:
//   - every root completed exactly once (value, error or cancelled_error),
//     and each of its two consumers got exactly one delivery, the same one;
//   - a root cancelled before it finished delivered cancelled_error, and no
//     root delivered another error;
//   - a root of a tree that nobody cancelled delivered a value, and the
//     value its tree computes: so every value produced while part of the
//     tree was paused (counted) was delivered, unless the tree was cancelled;
//   - every frame was destroyed exactly once, and each after its children
//     (innermost first);
//   - every state that holds the round's executor (spawned coroutines,
//     shared states, deferreds, timers, pending handlers) was released: the
//     round's executors are wrapped in one that counts its copies;
//   - the round finished: a watchdog fails the test (with the seed) if not.
//

#include <coflow/coflow.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace asio = boost::asio;
using coflow::coroutine;
using coflow::deferred;
using namespace std::chrono_literals;

namespace {

std::uint64_t seed = 1;
long violations = 0;

void violated(const char* what)
{
  std::fprintf(stderr, "chaos: invariant violated (seed %llu): %s\n",
      static_cast<unsigned long long>(seed), what);
  ++violations;
}

// --- frames: counted, and their cleanup order checked --------------------------

std::atomic<long> live_frames{0};
std::atomic<long> frames_made{0};
std::atomic<long> cleanup_clock{0};
std::atomic<long> order_violations{0};

std::atomic<long> values_produced_while_paused{0};

/// One per root: what its drivers did to the tree.
struct tree_state
{
  std::atomic<bool> cancelled{false}; // a cancel reached a coroutine of it before it completed
  std::atomic<long> produced_while_paused{0};
};

/// One per node frame. Knows its parent's record: a parent's cleanup must
/// come after the cleanup of every child it awaited, and a pause of an
/// ancestor (a tail-caller included) holds this node's results.
struct node_record
{
  std::atomic<long> cleaned_at{0};
  std::atomic<int> pauses{0}; // applied by a driver to this node's coroutine
  std::shared_ptr<node_record> parent;
  std::shared_ptr<tree_state> tree;
  bool awaited_by_parent = true;

  /// Counts a value produced (a deferred fired, an awaitable finished) while
  /// this node or an ancestor is paused.
  void produced() const
  {
    for (const node_record* r = this; r; r = r->parent.get())
      if (r->pauses.load() > 0)
      {
        ++tree->produced_while_paused;
        ++values_produced_while_paused;
        return;
      }
  }
};

struct frame_guard
{
  std::shared_ptr<node_record> record;

  explicit frame_guard(std::shared_ptr<node_record> r) : record(std::move(r))
  {
    ++live_frames;
    ++frames_made;
  }
  frame_guard(const frame_guard&) = delete;
  ~frame_guard()
  {
    record->cleaned_at = ++cleanup_clock;
    // The parent awaits this child: it cannot have been cleaned up yet.
    if (record->awaited_by_parent && record->parent && record->parent->cleaned_at != 0)
      ++order_violations;
    --live_frames;
  }
};

// --- states: every object that holds a round's executor, counted ---------------------

std::mutex executor_copies_mutex;
std::condition_variable executor_copies_gone;
std::atomic<long> executor_copies{0};

/// Wraps a round's executor and counts its live copies. Every state that
/// keeps the executor holds one: spawned coroutines' tasks and shared
/// states, deferreds, timers, pending handlers and their work. After a
/// round, once its handles are dropped, the count must come back to 0.
template <class Inner>
class counted_executor
{
public:
  explicit counted_executor(Inner inner) noexcept : inner_(std::move(inner)) { ++executor_copies; }
  counted_executor(const counted_executor& other) noexcept : inner_(other.inner_) { ++executor_copies; }
  counted_executor(counted_executor&& other) noexcept : inner_(std::move(other.inner_)) { ++executor_copies; }
  counted_executor& operator=(const counted_executor&) noexcept = default;
  counted_executor& operator=(counted_executor&&) noexcept = default;
  ~counted_executor()
  {
    if (--executor_copies == 0)
    {
      std::lock_guard<std::mutex> lock(executor_copies_mutex);
      executor_copies_gone.notify_all();
    }
  }

  template <class Property>
    requires asio::can_query<const Inner&, Property>::value
  decltype(auto) query(const Property& p) const
  {
    return asio::query(inner_, p);
  }

  template <class Property>
    requires asio::can_require<const Inner&, Property>::value
  auto require(const Property& p) const
  {
    return counted_executor<std::decay_t<decltype(asio::require(inner_, p))>>(asio::require(inner_, p));
  }

  template <class Property>
    requires asio::can_prefer<const Inner&, Property>::value
  auto prefer(const Property& p) const
  {
    return counted_executor<std::decay_t<decltype(asio::prefer(inner_, p))>>(asio::prefer(inner_, p));
  }

  template <class F>
  void execute(F&& f) const
  {
    inner_.execute(std::forward<F>(f));
  }

  friend bool operator==(const counted_executor& a, const counted_executor& b) noexcept
  {
    return a.inner_ == b.inner_;
  }

private:
  Inner inner_;
};

template <class Inner>
asio::any_io_executor counted(Inner inner)
{
  return asio::any_io_executor(counted_executor<Inner>(std::move(inner)));
}

/// Waits until every executor copy of the finished round is gone: the
/// drivers and the pool threads release theirs as they end. A state that is
/// never released fails the test, with its seed, after a generous limit (as
/// the watchdog does: the later rounds could not be checked).
void check_states_released()
{
  std::unique_lock<std::mutex> lock(executor_copies_mutex);
  if (!executor_copies_gone.wait_for(lock, 120s, [] { return executor_copies.load() == 0; }))
  {
    violated("every state that holds a round's executor released at the end of the round");
    std::abort();
  }
}

// --- the trees ----------------------------------------------------------------------

struct round_context
{
  std::vector<asio::any_io_executor> executors; // strands, or one io_context
  std::atomic<long> coroutines_made{0};
  std::atomic<long>* control_applied = nullptr;
};

void drive(coroutine<int> c, asio::any_io_executor home, std::uint64_t key, int actions,
    std::atomic<long>& applied, std::shared_ptr<node_record> target,
    std::shared_ptr<std::atomic<bool>> cancelled_first);

std::uint64_t mix(std::uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

coroutine<int> node(round_context& rc, std::uint64_t key, int depth,
    std::shared_ptr<node_record> record);

int node_kind(std::uint64_t key, int depth)
{
  return depth >= 8 ? 2 : static_cast<int>((mix(key) >> 8) % 7);
}

/// The value node(key, depth) computes when nothing cancels it.
int expected_value(std::uint64_t key, int depth)
{
  switch (node_kind(key, depth))
  {
  case 0:
    return 1 + expected_value(key * 31 + 1, depth + 1);
  case 4:
    return expected_value(key * 31 + 2, depth + 1);
  case 5:
    return expected_value(key * 31 + 3, depth + 1);
  case 6:
    return expected_value(key * 31 + 4, depth + 1) + expected_value(key * 31 + 5, depth + 1);
  default:
    return 1;
  }
}

asio::awaitable<int> asio_leaf(std::chrono::microseconds delay, std::shared_ptr<node_record> record)
{
  asio::steady_timer t(co_await asio::this_coro::executor, delay);
  co_await t.async_wait(asio::use_awaitable);
  record->produced();
  co_return 1;
}

coroutine<int> node(round_context& rc, std::uint64_t key, int depth,
    std::shared_ptr<node_record> record)
{
  frame_guard guard(record);
  ++rc.coroutines_made;
  auto ex = co_await coflow::this_coro::executor;
  const std::uint64_t r = mix(key);
  const auto delay = std::chrono::microseconds(r % 200);
  const int kind = node_kind(key, depth);
  auto child_record = [&](bool awaited) {
    auto c = std::make_shared<node_record>();
    c->parent = record;
    c->tree = record->tree;
    c->awaited_by_parent = awaited;
    return c;
  };
  switch (kind)
  {
  case 0: // a child, inline
    co_return 1 + co_await node(rc, key * 31 + 1, depth + 1, child_record(true));
  case 1: // a deferred, fired later from its executor, maybe with a canceller
  {
    deferred<int> d = (r >> 16) & 1 ? deferred<int>(ex, [](deferred<int>&) {})
                                    : deferred<int>(ex);
    auto timer = std::make_shared<asio::steady_timer>(ex, delay);
    timer->async_wait([d, timer, record](boost::system::error_code) mutable {
      if (!d.called())
      {
        record->produced();
        d.callback(1);
      }
    });
    co_return co_await d;
  }
  case 2: // a timer through use_coroutine
  {
    asio::steady_timer t(ex, delay);
    co_await t.async_wait(coflow::use_coroutine);
    co_return 1;
  }
  case 3: // an asio::awaitable
    co_return co_await asio_leaf(delay, record);
  case 4: // a tail call: the next state takes this node's place
    co_return co_await coflow::tail_call(node(rc, key * 31 + 2, depth + 1, child_record(false)));
  case 5: // a child spawned on another executor, awaited
  {
    auto other = rc.executors[(r >> 24) % rc.executors.size()];
    auto remote_record = child_record(true);
    auto c = coflow::spawn(other, node(rc, key * 31 + 3, depth + 1, remote_record));
    auto home = rc.executors[(r >> 32) % rc.executors.size()];
    // Not &rc: the round may be over when this runs (a cancelled parent
    // does not wait for the driver of its child).
    asio::post(home, [c, home, r, applied = rc.control_applied, remote_record] {
      drive(c, home, r, static_cast<int>(r % 4), *applied, remote_record, nullptr);
    });
    co_return co_await c;
  }
  default: // two children in a row
  {
    int a = co_await node(rc, key * 31 + 4, depth + 1, child_record(true));
    int b = co_await node(rc, key * 31 + 5, depth + 1, child_record(true));
    co_return a + b;
  }
  }
}

// --- the driver ---------------------------------------------------------------------

/// Random pause / unpause / cancel of @p c at random moments, one after the
/// other. The driver's timer runs on its own executor (often another strand
/// than the coroutine's); each operation is posted to the coroutine's
/// executor, as a user on another strand must do. Ends balanced (every pause
/// undone).
struct driver : std::enable_shared_from_this<driver>
{
  enum class op { pause, unpause, cancel };

  coroutine<int> c;
  std::uint64_t key;
  int actions;
  std::atomic<long>& applied;
  std::shared_ptr<node_record> target;
  std::shared_ptr<std::atomic<bool>> cancelled_first;
  asio::steady_timer timer; // on the driver's executor
  unsigned issued_pauses = 0; // read on the driver's executor only
  int step = 0;

  driver(coroutine<int> co, asio::any_io_executor home, std::uint64_t k, int n,
      std::atomic<long>& a, std::shared_ptr<node_record> t,
      std::shared_ptr<std::atomic<bool>> first)
    : c(std::move(co)), key(k), actions(n), applied(a), target(std::move(t)),
      cancelled_first(std::move(first)), timer(std::move(home))
  {
  }

  void next()
  {
    const std::uint64_t r = mix(key + static_cast<std::uint64_t>(step));
    timer.expires_after(std::chrono::microseconds(r % 300));
    timer.async_wait([self = shared_from_this(), r](boost::system::error_code) { self->act(r); });
  }

  /// On the driver's executor: decides the next operation.
  void act(std::uint64_t r)
  {
    if (step++ == actions)
    {
      for (; issued_pauses > 0; --issued_pauses)
        post(op::unpause);
      return;
    }
    switch (r % 5)
    {
    case 0:
    case 1:
      ++issued_pauses;
      post(op::pause);
      break;
    case 2:
    case 3:
      if (issued_pauses > 0)
      {
        --issued_pauses;
        post(op::unpause);
      }
      break;
    default:
      post(op::cancel);
      break;
    }
    next();
  }

  /// Posted operations from one strand run in the order they were posted.
  void post(op o)
  {
    asio::post(c.get_executor(), [self = shared_from_this(), o] { self->apply(o); });
  }

  /// On the coroutine's executor.
  void apply(op o)
  {
    ++applied;
    switch (o)
    {
    case op::pause:
      ++target->pauses; // counted first: a value produced from now on is produced while paused
      c.pause();
      break;
    case op::unpause:
      c.unpause();
      --target->pauses;
      break;
    case op::cancel:
      if (!c.called())
      {
        target->tree->cancelled = true;
        if (cancelled_first)
          cancelled_first->store(true);
      }
      c.cancel();
      break;
    }
  }
};

void drive(coroutine<int> c, asio::any_io_executor home, std::uint64_t key, int actions,
    std::atomic<long>& applied, std::shared_ptr<node_record> target,
    std::shared_ptr<std::atomic<bool>> cancelled_first)
{
  std::make_shared<driver>(std::move(c), std::move(home), key, actions, applied,
      std::move(target), std::move(cancelled_first))->next();
}

// --- rounds ---------------------------------------------------------------------

constexpr int cancelled = -1;
constexpr int other_error = -2;

/// A root's result as one number: its value (never negative), or a code.
int result_code(std::exception_ptr e, int v)
{
  if (!e)
    return v;
  try
  {
    std::rethrow_exception(e);
  }
  catch (const coflow::cancelled_error&)
  {
    return cancelled;
  }
  catch (...)
  {
    return other_error;
  }
}

struct totals
{
  long rounds = 0;
  long roots = 0;
  std::atomic<long> control_applied{0};
  long coroutines = 0;
  long paused_trees_delivered = 0; // values produced while paused, then delivered
};

/// One round: @p roots trees on @p executors; returns when all delivered.
void run_round(std::vector<asio::any_io_executor> executors, int roots, std::uint64_t round_key,
    totals& t, asio::io_context* single)
{
  round_context rc;
  rc.executors = std::move(executors);
  rc.control_applied = &t.control_applied;
  std::mutex mutex;
  std::condition_variable done;
  int delivered = 0;
  struct root_result
  {
    std::atomic<int> deliveries{0};
    std::atomic<int> value{-1}; // or one of the codes of result_code()
    std::atomic<int> second_deliveries{0};
    std::atomic<int> second_value{-1};
    int expected = 0;
    std::shared_ptr<tree_state> tree = std::make_shared<tree_state>();
    std::shared_ptr<std::atomic<bool>> cancelled_first = std::make_shared<std::atomic<bool>>(false);
  };
  std::vector<std::unique_ptr<root_result>> results;
  for (int i = 0; i < roots; ++i)
    results.push_back(std::make_unique<root_result>());

  for (int i = 0; i < roots; ++i)
  {
    const std::uint64_t key = mix(round_key * 1000003 + static_cast<std::uint64_t>(i));
    auto ex = rc.executors[key % rc.executors.size()];
    root_result* res = results[static_cast<std::size_t>(i)].get();
    res->expected = expected_value(key, 0);
    auto record = std::make_shared<node_record>();
    record->tree = res->tree;
    auto c = node(rc, key, 0, record);
    // The first consumer comes with the spawn: attached before the start is
    // posted, never from this thread while a pool thread runs the body. The
    // second is attached from the coroutine's executor, as a user would.
    auto count_delivery = [&mutex, &done, &delivered, roots] {
      std::lock_guard<std::mutex> lock(mutex);
      if (++delivered == 2 * roots)
        done.notify_all();
    };
    coflow::spawn(ex, c, [res, count_delivery](std::exception_ptr e, int v) {
      res->value = result_code(e, v);
      if (++res->deliveries == 1)
        count_delivery();
    });
    asio::post(ex, [c, res, count_delivery] {
      c.async_wait([res, count_delivery](std::exception_ptr e, int v) {
        res->second_value = result_code(e, v);
        if (++res->second_deliveries == 1)
          count_delivery();
      });
    });
    auto home = rc.executors[(key >> 40) % rc.executors.size()];
    asio::post(home, [c, home, key, &t, record, cancelled_first = res->cancelled_first] {
      drive(c, home, key ^ 0x5555, static_cast<int>(key % 6), t.control_applied, record,
          cancelled_first);
    });
  }

  // The remote children are driven too, once they exist.
  if (single)
  {
    single->restart();
    single->run();
  }
  {
    std::unique_lock<std::mutex> lock(mutex);
    if (!done.wait_for(lock, 120s, [&] { return delivered == 2 * roots; }))
    {
      std::fprintf(stderr, "chaos: round did not finish in 120 s (seed %llu)\n",
          static_cast<unsigned long long>(seed));
      std::abort(); // the watchdog: a hang is a failure, with its seed
    }
  }

  for (auto& r : results)
  {
    if (r->deliveries != 1 || r->second_deliveries != 1)
      violated("each consumer of a root got exactly one delivery");
    if (r->value != r->second_value)
      violated("both consumers of a root got the same result");
    if (r->value == other_error)
      violated("a root's only error is cancelled_error (nothing here fails otherwise)");
    if (r->cancelled_first->load() && r->value != cancelled)
      violated("a root cancelled before it finished delivered cancelled_error");
    if (r->value >= 0 && r->value != r->expected)
      violated("a root delivered the value its tree computes");
    if (!r->tree->cancelled && r->value < 0)
      violated("a tree that nobody cancelled delivered its value, "
               "values produced while paused included");
    if (r->tree->produced_while_paused > 0 && !r->tree->cancelled)
      ++t.paused_trees_delivered;
  }
  t.coroutines += rc.coroutines_made;
  ++t.rounds;
  t.roots += roots;
}

long peak_rss_kib()
{
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

} // namespace

int main(int argc, char* argv[])
{
  bool long_mode = false;
  seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i)
  {
    if (std::strcmp(argv[i], "--long") == 0)
      long_mode = true;
    else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
  }
  std::printf("chaos: seed %llu (replay with --seed %llu)%s\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed),
      long_mode ? ", long mode" : "");
  std::fflush(stdout);

  const int rounds = long_mode ? 100000 : 2000;
  totals t;
  asio::thread_pool pool(2);
  for (int round = 0; round < rounds; ++round)
  {
    const std::uint64_t key = mix(seed + static_cast<std::uint64_t>(round));
    if (round % 2 == 0)
    {
      // Two threads, coroutines bound to strands.
      std::vector<asio::any_io_executor> strands;
      for (int s = 0; s < 4; ++s)
        strands.push_back(counted(asio::make_strand(pool.get_executor())));
      run_round(std::move(strands), 20, key, t, nullptr);
    }
    else
    {
      asio::io_context io;
      run_round({counted(io.get_executor())}, 20, key, t, &io);
    }
    check_states_released();
    if (live_frames != 0)
      violated("every frame destroyed at the end of a round");
  }
  pool.join();

  if (frames_made != cleanup_clock)
    violated("every cleanup ran exactly once");
  if (order_violations != 0)
    violated("cleanup innermost first");
  std::printf("chaos: %ld rounds, %ld roots, %ld coroutines, %ld control operations, "
              "%ld values produced while paused (%ld uncancelled trees with one delivered "
              "them all), %ld violations, peak RSS %ld KiB\n",
      t.rounds, t.roots, t.coroutines, t.control_applied.load(),
      values_produced_while_paused.load(), t.paused_trees_delivered, violations, peak_rss_kib());
  return violations == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
