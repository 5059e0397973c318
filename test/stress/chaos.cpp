//
// test/stress/chaos.cpp: random trees of coroutines under random pause,
// unpause and cancel, on strands (a 2-thread pool's, or a single-threaded
// io_context) and on strand-less multi-threaded executors (a 2-thread pool,
// an io_context run by two threads).
//
// Usage: chaos [--mode strand|no-strand|both] [--long] [--rounds N] [--seed N]
//              [--watchdog S] [--exclude awaitable,timer]
//   default: both modes, 2 000 rounds (each variant below in turn), a short
//   run for CI; --long: 100 000 rounds (60 000 in no-strand mode alone);
//   --rounds N: exactly N rounds; --watchdog S: a round may take S seconds
//   (120); --exclude: an awaitable leaf becomes a timer, a timer a post (to
//   look past a known failure). The figures of each mode are printed.
//
// Each round spawns roots whose bodies are random trees (depth up to 8) of:
// child coroutines, deferreds with and without cancellers (fired later from
// their executor), timers through use_coroutine, asio::awaitables, tail
// calls, children spawned on another executor and awaited, and the
// combinators of DESIGN.md §7: a join of two children, a race of a child
// and a sleep, a child under a timeout, and a task group whose body awaits
// one child and spawns another. Drivers, one
// per root and per remote child, pause, unpause and cancel them at random
// moments.
//
// Strand mode: rounds alternate between 4 strands of a 2-thread pool and a
// single-threaded io_context. A driver's timer runs on a strand of its own
// choice (often another) and posts each operation to the coroutine's
// executor, as a user on another strand must do.
//
// No-strand mode: rounds alternate between a 2-thread pool's executor and an
// io_context run by two threads, without strands: a body resumes on either
// thread. Drivers run on a strand, on the strand-less executor itself, or on
// a thread of their own, and call pause(), unpause() and cancel() directly,
// racing with the bodies (DESIGN.md §4: safe from any thread). Deferreds are
// used only from their executor, as coflow requires: each deferred gets a
// strand of its own over the round's threads, fired from a timer on that
// strand. A remote child runs either on a strand of its own (awaited
// directly: its shared state is touched only from that strand), or on the
// strand-less executor with spawn's completion token, which fires a
// deferred on a strand (whose canceller cancels the child) that the parent
// awaits. A root's second consumer is attached by its own body: no other
// thread may use the shared state of a coroutine on a strand-less executor
// (a root cancelled before its body ran has none). Timers are awaited
// directly, with use_coroutine (the cancel is emitted on the strand-less
// executor, racing with their completion). An asio::awaitable's steps are
// not safe against a cancellation emitted on another thread (Asio's rule,
// not coflow's): it runs on a strand of its own, co_spawned with
// use_deferred, so that the cancel reaches it through that strand.
//
// After every round:
//   - every root completed exactly once (value, error or cancelled_error),
//     and each of its two consumers got exactly one delivery, the same one
//     (no-strand mode: a root without a second consumer, its body never
//     run, delivered cancelled_error);
//   - a root cancelled before it finished delivered cancelled_error, and no
//     root delivered another error. (No-strand mode: "before it finished"
//     means the root's cancel() returned before its body began to return its
//     value; a seq_cst fence on each side makes that observable.);
//   - a root of a tree that nobody cancelled delivered a value, and the
//     value its tree computes: so every value produced while part of the
//     tree was paused (counted) was delivered, unless the tree was cancelled;
//   - a paused coroutine does not advance: from its driver's pause() to the
//     unpause() that undoes it, its body neither starts nor resumes with a
//     result more than once (the step a wake-up had begun), unless the tree
//     was cancelled;
//   - every frame was destroyed exactly once (the round waits for the last
//     one, started or not), and each after the frames it awaited (innermost
//     first, per chain of awaits);
//   - every state that holds the round's executor (spawned coroutines,
//     shared states, deferreds, timers, pending handlers, drivers) was
//     released: the round's executors are wrapped in one that counts its
//     copies;
//   - nothing reached the unhandled-error handler (every error of the
//     trees has a consumer; a report means a cascade went wrong);
//   - the round finished: a watchdog thread fails the test (with the seed)
//     if a round takes over 120 s, wherever it hangs, and lists the frames
//     still alive and what each waits on.
// Any violation is printed with the seed, and the exit status is non-zero.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//

#include <coflow/coflow.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
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
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using coflow::coroutine;
using coflow::deferred;
using namespace std::chrono_literals;

namespace {

std::uint64_t seed = 1;
std::atomic<long> violations{0};
/// How long a round may take before the watchdog fails the test (--watchdog).
std::chrono::seconds round_limit{120};

void violated(const char* what)
{
  std::fprintf(stderr, "chaos: invariant violated (seed %llu): %s\n",
      static_cast<unsigned long long>(seed), what);
  ++violations;
}

// --- the watchdog -------------------------------------------------------------------

void live_frames_report();

/// Fails the test, with its seed, when a round does not finish in
/// round_limit (120 s), wherever it hangs (a round that runs an io_context
/// blocks in run()).
class watchdog
{
public:
  watchdog() : thread_([this] { watch(); }) {}
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog()
  {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  /// A round begins.
  void round(long number, const char* what)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    round_ = number;
    what_ = what;
    since_ = std::chrono::steady_clock::now();
  }

private:
  void watch()
  {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_)
    {
      wake_.wait_for(lock, 1s);
      if (!stop_ && round_ >= 0 && std::chrono::steady_clock::now() - since_ > round_limit)
      {
        std::fprintf(stderr, "chaos: round %ld (%s) did not finish in %lld s (seed %llu)\n",
            round_, what_, static_cast<long long>(round_limit.count()),
            static_cast<unsigned long long>(seed));
        live_frames_report();
        std::abort(); // a hang is a failure, with its seed
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  long round_ = -1;
  const char* what_ = "";
  std::chrono::steady_clock::time_point since_;
  std::thread thread_;
};

// --- frames: counted, and their cleanup order checked --------------------------

std::atomic<long> live_frames{0};
std::atomic<long> frames_made{0};
std::atomic<long> pause_windows{0}; // checked by the drivers, for the figures
std::atomic<long> cleanup_clock{0};
std::atomic<long> order_violations{0};

std::mutex frames_mutex;
std::condition_variable frames_gone;
std::atomic<long> frames_existing{0};

/// A parameter of node(): the frame keeps its copy until it is destroyed,
/// whether its body ran or not (a spawned child cancelled before its start
/// never runs it; one started late still reads the round's context). So
/// frames_existing counts every frame of node() that exists, unlike
/// live_frames, which counts bodies that began.
struct frame_census
{
  frame_census() noexcept { ++frames_existing; }
  frame_census(const frame_census&) noexcept { ++frames_existing; }
  frame_census& operator=(const frame_census&) = delete;
  ~frame_census()
  {
    if (--frames_existing == 0)
    {
      std::lock_guard<std::mutex> lock(frames_mutex);
      frames_gone.notify_all();
    }
  }
};

/// Returns once no frame of node() exists (the watchdog guards it).
void wait_frames_gone()
{
  std::unique_lock<std::mutex> lock(frames_mutex);
  frames_gone.wait(lock, [] { return frames_existing.load() == 0; });
}

/// One per root: what its drivers did to the tree.
struct tree_state
{
  /// A driver cancelled a coroutine of it before that one completed (strand
  /// mode: called() said so; no-strand mode: any cancel() counts).
  std::atomic<bool> cancelled{false};
  std::atomic<long> produced_while_paused{0};
  /// The root's body (or the next state of its tail calls) has begun to
  /// return its value: a cancel from now on may leave the value.
  std::atomic<bool> returning{false};
};

/// No-strand mode: how a root's body attaches the root's second consumer.
/// On a strand-less executor no thread but the body's may use the root's
/// shared state (not even once the root has delivered: the thread that
/// settles it may still walk its chain), so a root cancelled before its
/// body ran has no second consumer.
struct self_link
{
  coroutine<int> self; // the root; dropped once the consumer is attached
  std::function<void(std::exception_ptr, int)> consumer;
  std::atomic<bool> attached{false};

  /// From the root's own body.
  void attach()
  {
    self.async_wait(std::move(consumer));
    self = {};
    attached = true;
  }
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
  std::shared_ptr<self_link> self; // a no-strand root's
  /// Cleared when a remote child was never waited for: a cancel that
  /// lands between its spawn and the parent's co_await (no-strand mode: a
  /// driver calls cancel() while the body runs) makes that co_await throw
  /// at once (the cancel is sticky).
  std::atomic<bool> awaited_by_parent{true};
  bool root_chain = true; // the root, or the next state of its tail calls
  /// The steps of this node's coroutine: its start and each co_await that
  /// resumed it with a result (shared with the next states of its tail
  /// calls, which are the same coroutine). A driver checks that a pause
  /// holds them.
  std::shared_ptr<std::atomic<long>> steps = std::make_shared<std::atomic<long>>(0);

  // For the watchdog's report of a hang (see live_frames_report()): relaxed
  // atomics only, so that the report adds no synchronization that could
  // hide a race from TSan.
  std::atomic<int> depth{0};
  std::atomic<int> kind{-1};
  std::atomic<const char*> waiting{"its start"};
  std::atomic<bool> alive{false};
  std::atomic<node_record*> next_live{nullptr};
  std::atomic<node_record*> parent_seen{nullptr};
  std::atomic<tree_state*> tree_seen{nullptr};
  std::shared_ptr<node_record> keep; // the report's list keeps it until the round ends

  /// Before each co_await: what the frame waits on, for the report.
  void awaits(const char* what) { waiting.store(what, std::memory_order_relaxed); }

  /// The body starts, or a co_await resumed it with a result.
  void step() const { ++*steps; }

  /// Counts a value produced (a deferred fired, an awaitable finished) while
  /// this node or an ancestor is paused.
  void produced() const
  {
    for (const node_record* r = this; r; r = r->parent.get())
      if (r->pauses.load() > 0)
      {
        ++tree->produced_while_paused;
        return;
      }
  }

  /// Right before a co_return of a value: see tree_state::returning. The
  /// fence pairs with the one a driver issues after its cancel(): if the
  /// driver then reads false, the body's end sees the cancel.
  void returns() const
  {
    if (root_chain)
    {
      tree->returning = true;
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
  }
};

/// Every frame record of the round, for the watchdog's report.
std::atomic<node_record*> live_list{nullptr};

void register_live(const std::shared_ptr<node_record>& r)
{
  r->keep = r;
  r->parent_seen.store(r->parent.get(), std::memory_order_relaxed);
  r->tree_seen.store(r->tree.get(), std::memory_order_relaxed);
  r->alive.store(true, std::memory_order_relaxed);
  node_record* head = live_list.load(std::memory_order_relaxed);
  // Release only: the pushers do not synchronize with each other, and the
  // report's acquire load sees every record whole (a release sequence).
  do
    r->next_live.store(head, std::memory_order_relaxed);
  while (!live_list.compare_exchange_weak(head, r.get(), std::memory_order_release,
      std::memory_order_relaxed));
}

/// At the end of a round, once every frame is gone.
void clear_live_list()
{
  node_record* r = live_list.exchange(nullptr, std::memory_order_relaxed);
  while (r)
  {
    node_record* next = r->next_live.load(std::memory_order_relaxed);
    r->keep.reset(); // may destroy r
    r = next;
  }
}

/// The frames of a hung round that are still alive: what each waits on.
/// (Only when the round hangs: a record read here may be changing.)
void live_frames_report()
{
  int shown = 0;
  for (node_record* r = live_list.load(std::memory_order_acquire); r && shown < 60;
       r = r->next_live.load(std::memory_order_relaxed))
  {
    if (!r->alive.load(std::memory_order_relaxed))
      continue;
    ++shown;
    std::fprintf(stderr, "chaos:   live frame %p (parent %p): depth %d, kind %d, waits on %s, "
                         "%d driver pauses, tree %s\n",
        static_cast<void*>(r),
        static_cast<void*>(r->parent_seen.load(std::memory_order_relaxed)),
        r->depth.load(std::memory_order_relaxed), r->kind.load(std::memory_order_relaxed),
        r->waiting.load(std::memory_order_relaxed), r->pauses.load(std::memory_order_relaxed),
        r->tree_seen.load(std::memory_order_relaxed)->cancelled.load(std::memory_order_relaxed)
            ? "cancelled"
            : "not cancelled");
  }
}

struct frame_guard
{
  std::shared_ptr<node_record> record;

  explicit frame_guard(std::shared_ptr<node_record> r) : record(std::move(r))
  {
    ++live_frames;
    ++frames_made;
    register_live(record);
  }
  frame_guard(const frame_guard&) = delete;
  ~frame_guard()
  {
    record->alive.store(false, std::memory_order_relaxed);
    record->cleaned_at = ++cleanup_clock;
    // The parent awaits this child: it cannot have been cleaned up yet.
    // (Read in this order: a parent that stopped waiting clears
    // awaited_by_parent before its cleanup.)
    if (record->parent && record->parent->cleaned_at != 0 && record->awaited_by_parent)
      ++order_violations;
    --live_frames;
  }
};

// --- states: every object that holds a round's executor, counted ---------------------

std::mutex executor_copies_mutex;
std::condition_variable executor_copies_gone;
std::atomic<long> executor_copies{0};

/// Wraps a round's executor and counts its live copies. Every state that
/// keeps the executor holds one: spawned coroutines' coroutine states and shared
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
  if (!executor_copies_gone.wait_for(lock, round_limit, [] { return executor_copies.load() == 0; }))
  {
    violated("every state that holds a round's executor released at the end of the round");
    std::abort();
  }
}



// --- the trees ----------------------------------------------------------------------

struct round_context
{
  /// Strand mode: the strands, or the one single-threaded io_context;
  /// no-strand mode: the one strand-less executor.
  std::vector<asio::any_io_executor> executors;
  /// Where the drivers' timers run.
  std::vector<asio::any_io_executor> driver_homes;
  /// No-strand mode: drivers call directly; this makes a strand of its own
  /// (counted) over the round's threads, for a deferred or a remote child.
  bool strandless = false;
  std::function<asio::any_io_executor()> new_strand;
  std::atomic<long> coroutines_made{0};
  std::atomic<long>* control_applied = nullptr;
};

/// How a driver controls its coroutine: posted to the coroutine's executor
/// (strand mode), or called directly on the driver's thread (no-strand
/// mode).
enum class driving { posted, direct };

/// No-strand mode: drivers call directly, on a strand or not.
driving direct_driving(bool)
{
  return driving::direct;
}

void drive(coroutine<int> c, asio::any_io_executor home, driving how, std::uint64_t key,
    int actions, std::atomic<long>& applied, std::shared_ptr<node_record> target,
    std::shared_ptr<std::atomic<bool>> cancelled_first);

std::uint64_t mix(std::uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

coroutine<int> node(round_context& rc, std::uint64_t key, int depth,
    std::shared_ptr<node_record> record, frame_census = {});

/// Leaves left out (--exclude): an awaitable becomes a timer, a timer a
/// post, both through use_coroutine. Their value is 1 all the same.
bool exclude_awaitables = false;
bool exclude_timers = false;

int node_kind(std::uint64_t key, int depth)
{
  return depth >= 8 ? 2 : static_cast<int>((mix(key) >> 8) % 11);
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
  case 7:
  case 10:
    return expected_value(key * 31 + 4, depth + 1) + expected_value(key * 31 + 5, depth + 1);
  case 8:
  case 9:
    return expected_value(key * 31 + 6, depth + 1);
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

/// Drives a remote child from @p home, once the driver starts there.
void drive_remote(round_context& rc, const coroutine<int>& c, std::uint64_t r,
    std::shared_ptr<node_record> remote_record, bool on_strand)
{
  auto home = rc.driver_homes[(r >> 32) % rc.driver_homes.size()];
  const driving how = rc.strandless ? direct_driving(on_strand) : driving::posted;
  // Not &rc: the round may be over when this runs (a cancelled parent
  // does not wait for the driver of its child).
  asio::post(home, [c, home, r, how, applied = rc.control_applied, remote_record] {
    drive(c, home, how, r, static_cast<int>(r % 4), *applied, remote_record, nullptr);
  });
}

coroutine<int> node(round_context& rc, std::uint64_t key, int depth,
    std::shared_ptr<node_record> record, frame_census)
{
  frame_guard guard(record);
  record->step();
  ++rc.coroutines_made;
  if (record->self) // a no-strand root: its body is the thread that may use its handle
    record->self->attach();
  auto ex = co_await coflow::this_coro::executor;
  const std::uint64_t r = mix(key);
  const auto delay = std::chrono::microseconds(r % 200);
  int kind = node_kind(key, depth);
  if (kind == 3 && exclude_awaitables)
    kind = 2;
  record->depth.store(depth, std::memory_order_relaxed);
  record->kind.store(kind, std::memory_order_relaxed);
  auto child_record = [&](bool awaited, bool tail = false) {
    auto c = std::make_shared<node_record>();
    c->parent = record;
    c->tree = record->tree;
    c->awaited_by_parent = awaited;
    c->root_chain = tail && record->root_chain;
    if (tail)
      c->steps = record->steps; // the same coroutine
    return c;
  };
  int value = 0;
  switch (kind)
  {
  case 0: // a child, inline
    record->awaits("an inline child");
    value = 1 + co_await node(rc, key * 31 + 1, depth + 1, child_record(true));
    record->step();
    break;
  case 1: // a deferred, fired later from its executor, maybe with a canceller
  {
    // No-strand mode: a deferred is used from its executor only, a strand
    // of its own; the body awaits it from the strand-less executor.
    auto dex = rc.strandless ? rc.new_strand() : ex;
    deferred<int> d = (r >> 16) & 1 ? deferred<int>(dex, [](deferred<int>&) {})
                                    : deferred<int>(dex);
    auto timer = std::make_shared<asio::steady_timer>(dex, delay);
    timer->async_wait([d, timer, record](boost::system::error_code) mutable {
      if (!d.called())
      {
        record->produced();
        d.callback(1);
      }
    });
    record->awaits("a deferred");
    value = co_await d;
    record->step();
    break;
  }
  case 2: // a timer through use_coroutine
  {
    if (exclude_timers)
    {
      record->awaits("a post");
      co_await asio::post(ex, coflow::use_coroutine);
      record->step();
      value = 1;
      break;
    }
    asio::steady_timer t(ex, delay);
    record->awaits("a timer");
    co_await t.async_wait(coflow::use_coroutine);
    record->step();
    value = 1;
    break;
  }
  case 3: // an asio::awaitable
    if (rc.strandless)
    {
      // On a strand of its own (see the top of the file). (The deferred is
      // named: g++ 12 destroys a co_await's temporaries twice when it
      // throws.)
      deferred<int> d = asio::co_spawn(rc.new_strand(), asio_leaf(delay, record),
          coflow::use_deferred);
      record->awaits("an awaitable on a strand, through use_deferred");
      value = co_await d;
      record->step();
      break;
    }
    record->awaits("an awaitable");
    value = co_await asio_leaf(delay, record);
    record->step();
    break;
  case 4: // a tail call: the next state takes this node's place
    record->awaits("a tail call");
    co_return co_await coflow::tail_call(
        node(rc, key * 31 + 2, depth + 1, child_record(false, true)));
  case 5: // a child spawned on another executor, awaited
  {
    if (!rc.strandless)
    {
      auto other = rc.executors[(r >> 24) % rc.executors.size()];
      auto remote_record = child_record(true);
      auto c = coflow::spawn(other, node(rc, key * 31 + 3, depth + 1, remote_record));
      drive_remote(rc, c, r, remote_record, true);
      record->awaits("a remote child");
      value = co_await c;
      record->step();
    }
    else if ((r >> 20) & 1)
    {
      // On a strand of its own: its state is touched only from there.
      auto remote_record = child_record(true);
      auto c = coflow::spawn(rc.new_strand(), node(rc, key * 31 + 3, depth + 1, remote_record));
      drive_remote(rc, c, r, remote_record, true);
      record->awaits("a remote child on a strand");
      try
      {
        value = co_await c;
        record->step();
      }
      catch (const coflow::cancelled_error&)
      {
        // Thrown at once (the cancel came first): the child was not awaited.
        if (remote_record->cleaned_at == 0)
          remote_record->awaited_by_parent = false;
        throw;
      }
    }
    else
    {
      // On the strand-less executor: its result comes through spawn's
      // token, which fires a deferred on a strand; a cancel of that
      // deferred cancels the child, and the parent goes on at once (so
      // the child's frame may go after the parent's: not awaited).
      auto remote_record = child_record(false);
      auto c = node(rc, key * 31 + 3, depth + 1, remote_record);
      auto dex = rc.new_strand();
      deferred<int> d(dex, [c](deferred<int>&) { c.cancel(); });
      coflow::spawn(ex, c, [d, dex, remote_record](std::exception_ptr e, int v) {
        asio::post(dex, [d, e, v, remote_record]() mutable {
          if (d.called())
            return; // cancelled meanwhile
          remote_record->produced();
          if (e)
            d.errback(e);
          else
            d.callback(v);
        });
      });
      // On a strand if this body is (a subtree of a child on a strand).
      drive_remote(rc, c, r, remote_record, !(ex == rc.executors[0]));
      record->awaits("a deferred fired by a remote child's spawn token");
      value = co_await d;
      record->step();
    }
    break;
  }
  case 7: // two children at once: a join
  {
    // Each combinator is named before its co_await: g++ 12 destroys a
    // co_await's temporaries twice when it throws (a cancel).
    auto both = coflow::join(node(rc, key * 31 + 4, depth + 1, child_record(true)),
        node(rc, key * 31 + 5, depth + 1, child_record(true)));
    record->awaits("a join of two children");
    auto [a, b] = co_await std::move(both);
    record->step();
    value = a + b;
    break;
  }
  case 8: // a race of a child and a sleep it always beats
  {
    auto first = coflow::race(node(rc, key * 31 + 6, depth + 1, child_record(true)),
        coflow::sleep(std::chrono::hours(1)));
    record->awaits("a race of a child and an hour's sleep");
    auto won = co_await std::move(first);
    record->step();
    value = std::get<0>(won);
    break;
  }
  case 9: // a child under a timeout it never reaches
  {
    auto bounded = coflow::timeout(std::chrono::hours(1),
        node(rc, key * 31 + 6, depth + 1, child_record(true)));
    record->awaits("a child under a timeout");
    value = co_await std::move(bounded);
    record->step();
    break;
  }
  case 10: // a task group: the body awaits one child and spawns the other
  {
    auto spawned_value = std::make_shared<int>(0);
    int a = 0;
    auto group = coflow::with_task_group([&](coflow::task_group& g) -> coroutine<void> {
      auto spawned = [](coroutine<int> c, std::shared_ptr<int> out) -> coroutine<void> {
        *out = co_await std::move(c);
      };
      g.spawn(spawned(node(rc, key * 31 + 5, depth + 1, child_record(true)), spawned_value));
      auto first = node(rc, key * 31 + 4, depth + 1, child_record(true));
      a = co_await std::move(first);
    });
    record->awaits("a task group");
    co_await std::move(group);
    record->step();
    value = a + *spawned_value;
    break;
  }
  default: // two children in a row
  {
    record->awaits("the first of two children");
    int a = co_await node(rc, key * 31 + 4, depth + 1, child_record(true));
    record->step();
    record->awaits("the second of two children");
    int b = co_await node(rc, key * 31 + 5, depth + 1, child_record(true));
    record->step();
    value = a + b;
    break;
  }
  }
  record->awaits("nothing (returning)");
  record->returns();
  co_return value;
}

// --- the driver ---------------------------------------------------------------------

/// Random pause / unpause / cancel of @p c at random moments, one after the
/// other. The driver's timer runs on its own executor (often another strand
/// than the coroutine's). Strand mode (posted): each operation is posted to
/// the coroutine's executor, as a user on another strand must do. No-strand
/// mode (direct): each is called here, on the driver's thread, racing with
/// the body. Ends balanced (every pause undone).
struct driver : std::enable_shared_from_this<driver>
{
  enum class op { pause, unpause, cancel };

  coroutine<int> c;
  driving how;
  std::uint64_t key;
  int actions;
  std::atomic<long>& applied;
  std::shared_ptr<node_record> target;
  std::shared_ptr<std::atomic<bool>> cancelled_first;
  asio::steady_timer timer; // on the driver's executor
  unsigned issued_pauses = 0; // read by the driver's steps only
  int step = 0;
  // Read by apply() only (one at a time, in order).
  unsigned held = 0; // pauses applied and not undone
  long steps_at_pause = 0;

  driver(coroutine<int> co, asio::any_io_executor home, driving h, std::uint64_t k, int n,
      std::atomic<long>& a, std::shared_ptr<node_record> t,
      std::shared_ptr<std::atomic<bool>> first)
    : c(std::move(co)), how(h), key(k), actions(n), applied(a), target(std::move(t)),
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
    if (how != driving::posted)
      return apply(o);
    asio::post(c.get_executor(), [self = shared_from_this(), o] { self->apply(o); });
  }

  /// On the coroutine's executor (strand mode), or on the driver's thread.
  void apply(op o)
  {
    ++applied;
    switch (o)
    {
    case op::pause:
      ++target->pauses; // counted first: a value produced from now on is produced while paused
      c.pause();
      if (held++ == 0)
        steps_at_pause = target->steps->load();
      break;
    case op::unpause:
      // Paused, the body takes at most the step it was in (a wake-up that
      // had begun): no start, no resumption with a result, until now. A
      // cancel (of this one, or cascading from an ancestor) overrides the
      // pause: only counted when the tree was not cancelled (read after the
      // steps: a cancel's flag is set before its cancel()).
      if (--held == 0 && !target->tree->cancelled.load())
      {
        ++pause_windows;
        if (target->steps->load() - steps_at_pause > 1 && !target->tree->cancelled.load())
          violated("a paused coroutine took at most the step it was in");
      }
      c.unpause();
      --target->pauses;
      break;
    case op::cancel:
      if (how != driving::posted)
        cancel_directly();
      else
      {
        if (!c.called())
        {
          target->tree->cancelled = true;
          if (cancelled_first)
            cancelled_first->store(true);
        }
        c.cancel();
      }
      break;
    }
  }

  /// No-strand mode: called() is not safe from another thread while the
  /// body runs, so the tree counts as cancelled, and the root as cancelled
  /// before it finished if its body had not begun to return its value once
  /// cancel() returned (see node_record::returns()).
  void cancel_directly()
  {
    target->tree->cancelled = true;
    c.cancel();
    if (cancelled_first)
    {
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (!target->tree->returning.load())
        cancelled_first->store(true);
    }
  }
};

void drive(coroutine<int> c, asio::any_io_executor home, driving how, std::uint64_t key,
    int actions, std::atomic<long>& applied, std::shared_ptr<node_record> target,
    std::shared_ptr<std::atomic<bool>> cancelled_first)
{
  std::make_shared<driver>(std::move(c), std::move(home), how, key, actions, applied,
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

/// The figures of one mode.
struct totals
{
  long rounds = 0;
  long roots = 0;
  std::atomic<long> control_applied{0};
  long coroutines = 0;
  long produced_while_paused = 0;
  long paused_trees_delivered = 0; // values produced while paused, then delivered
  long pause_windows = 0; // pause to last unpause of an uncancelled tree, checked
  double seconds = 0;
};

/// One round: @p roots trees on @p rc's executors; returns when all
/// delivered and every state of the round is released. @p run, if given,
/// runs the round's io_context (on this thread, and on others).
void run_round(round_context& rc, int roots, std::uint64_t round_key, totals& t,
    const std::function<void()>& run)
{
  rc.control_applied = &t.control_applied;
  const long windows_before = pause_windows.load();
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
    std::shared_ptr<self_link> self; // no-strand mode
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
    auto count_delivery = [&mutex, &done, &delivered, roots] {
      std::lock_guard<std::mutex> lock(mutex);
      if (++delivered == 2 * roots)
        done.notify_all();
    };
    auto second = [res, count_delivery](std::exception_ptr e, int v) {
      res->second_value = result_code(e, v);
      if (++res->second_deliveries == 1)
        count_delivery();
    };
    std::shared_ptr<self_link> self;
    if (rc.strandless)
    {
      // Only the body may use the root's shared state.
      self = std::make_shared<self_link>();
      self->consumer = second;
      record->self = self;
      res->self = self;
    }
    auto c = node(rc, key, 0, record);
    if (self)
      self->self = c;
    // The first consumer comes with the spawn: attached before the start is
    // posted, never from this thread while a pool thread runs the body.
    coflow::spawn(ex, c, [res, count_delivery, self](std::exception_ptr e, int v) {
      res->value = result_code(e, v);
      if (++res->deliveries == 1)
        count_delivery();
      if (self && !self->attached)
      {
        // Cancelled before its body ran: no second consumer.
        self->self = {};
        count_delivery();
      }
    });
    // Strand mode: the second consumer is attached from the coroutine's
    // executor, as a user would.
    if (!self)
      asio::post(ex, [c, second] { c.async_wait(second); });
    auto home = rc.driver_homes[(key >> 40) % rc.driver_homes.size()];
    const driving how = rc.strandless ? direct_driving(false) : driving::posted;
    asio::post(home, [c, home, key, &t, record, how, cancelled_first = res->cancelled_first] {
      drive(c, home, how, key ^ 0x5555, static_cast<int>(key % 6), t.control_applied, record,
          cancelled_first);
    });
  }

  // The remote children are driven too, once they exist.
  if (run)
    run();
  {
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] { return delivered == 2 * roots; }); // the watchdog guards it
  }

  for (auto& r : results)
  {
    const bool second = !r->self || r->self->attached;
    if (r->deliveries != 1 || r->second_deliveries != (second ? 1 : 0))
      violated("each consumer of a root got exactly one delivery");
    if (second && r->value != r->second_value)
      violated("both consumers of a root got the same result");
    if (!second && r->value != cancelled)
      violated("a root whose body never ran delivered cancelled_error");
    if (r->value == other_error)
      violated("a root's only error is cancelled_error (nothing here fails otherwise)");
    if (r->cancelled_first->load() && r->value != cancelled)
      violated("a root cancelled before it finished delivered cancelled_error");
    if (r->value >= 0 && r->value != r->expected)
    {
      std::fprintf(stderr, "DEBUG value %d expected %d\n", int(r->value), int(r->expected));
      violated("a root delivered the value its tree computes");
    }
    if (!r->tree->cancelled && r->value < 0)
      violated("a tree that nobody cancelled delivered its value, "
               "values produced while paused included");
    t.produced_while_paused += r->tree->produced_while_paused;
    if (r->tree->produced_while_paused > 0 && !r->tree->cancelled)
      ++t.paused_trees_delivered;
  }
  results.clear();
  // Bodies that nobody waits for any more (a remote child whose parent went
  // on after a cancel) may still run, or not have started yet, and read rc:
  // wait for every frame of the round to be gone (the watchdog reports a
  // frame that never goes).
  wait_frames_gone();
  if (live_frames != 0)
    violated("every body that began ended with its frame");
  rc.executors.clear();
  rc.driver_homes.clear();
  rc.new_strand = nullptr;
  check_states_released(); // the drivers too: they hold their home executor
  clear_live_list();
  t.pause_windows += pause_windows.load() - windows_before;
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

/// A thread of its own for drivers of the no-strand mode: control calls
/// from a thread that runs none of the coroutines.
class driver_thread
{
public:
  driver_thread() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  driver_thread(const driver_thread&) = delete;
  driver_thread& operator=(const driver_thread&) = delete;
  ~driver_thread()
  {
    work_.reset();
    thread_.join();
  }

  asio::io_context::executor_type executor() { return io_.get_executor(); }

private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

enum class variant { pool_strands, single_io, pool_strandless, io_two_threads };

const char* name_of(variant v)
{
  switch (v)
  {
  case variant::pool_strands:
    return "strand: 4 strands of a 2-thread pool";
  case variant::single_io:
    return "strand: a single-threaded io_context";
  case variant::pool_strandless:
    return "no-strand: a 2-thread pool";
  default:
    return "no-strand: an io_context run by two threads";
  }
}

void print(const char* mode, const totals& t)
{
  std::printf("chaos: %s mode: %ld rounds, %ld roots, %ld coroutines, %ld control operations, "
              "%ld pause windows checked, %ld values produced while paused (%ld uncancelled "
              "trees with one delivered them all), %.1f s\n",
      mode, t.rounds, t.roots, t.coroutines, t.control_applied.load(), t.pause_windows,
      t.produced_while_paused, t.paused_trees_delivered, t.seconds);
}

} // namespace

int main(int argc, char* argv[])
{
  bool long_mode = false;
  bool strand_mode = true;
  bool strandless_mode = true;
  long rounds = -1;
  seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i)
  {
    if (std::strcmp(argv[i], "--long") == 0)
      long_mode = true;
    else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (std::strcmp(argv[i], "--watchdog") == 0 && i + 1 < argc)
      round_limit = std::chrono::seconds(std::strtol(argv[++i], nullptr, 10));
    else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
      rounds = std::strtol(argv[++i], nullptr, 10);
    else if (std::strcmp(argv[i], "--exclude") == 0 && i + 1 < argc)
    {
      const std::string leaves = argv[++i];
      exclude_awaitables = leaves.find("awaitable") != std::string::npos;
      exclude_timers = leaves.find("timer") != std::string::npos;
    }
    else if (std::strcmp(argv[i], "--mode") == 0 && i + 1 < argc)
    {
      const std::string m = argv[++i];
      strand_mode = m == "strand" || m == "both";
      strandless_mode = m == "no-strand" || m == "both";
      if (!strand_mode && !strandless_mode)
      {
        std::fprintf(stderr, "chaos: --mode strand|no-strand|both\n");
        return EXIT_FAILURE;
      }
    }
    else
    {
      std::fprintf(stderr,
          "usage: chaos [--mode strand|no-strand|both] [--long] [--rounds N] [--seed N] "
          "[--watchdog S] [--exclude awaitable,timer]\n");
      return EXIT_FAILURE;
    }
  }
  const char* mode = strand_mode && strandless_mode ? "both" : strand_mode ? "strand" : "no-strand";
  // --long: 100 000 rounds; 60 000 for the no-strand mode alone (about 12
  // minutes under TSan on 2 cores).
  if (rounds < 0)
    rounds = !long_mode ? 2000 : strand_mode ? 100000 : 60000;
  std::printf("chaos: seed %llu (replay with --seed %llu), mode %s, %ld rounds%s\n",
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), mode, rounds,
      long_mode ? ", long mode" : "");
  std::fflush(stdout);

  coflow::set_unhandled_error_handler([](std::exception_ptr e) {
    std::string what = "unknown";
    try
    {
      std::rethrow_exception(e);
    }
    catch (const std::exception& x)
    {
      what = x.what();
    }
    catch (...)
    {
    }
    violated(("an unhandled error was reported: " + what).c_str());
  });

  std::vector<variant> variants;
  if (strand_mode)
    variants.insert(variants.end(), {variant::pool_strands, variant::single_io});
  if (strandless_mode)
    variants.insert(variants.end(), {variant::pool_strandless, variant::io_two_threads});

  totals strand_totals;
  totals strandless_totals;
  watchdog dog;
  driver_thread drivers;
  asio::thread_pool pool(2);
  for (long round = 0; round < rounds; ++round)
  {
    const std::uint64_t key = mix(seed + static_cast<std::uint64_t>(round));
    const variant v = variants[static_cast<std::size_t>(round) % variants.size()];
    dog.round(round, name_of(v));
    const auto began = std::chrono::steady_clock::now();
    round_context rc;
    totals* t = &strand_totals;
    switch (v)
    {
    case variant::pool_strands:
      // Two threads, coroutines bound to strands.
      for (int s = 0; s < 4; ++s)
        rc.executors.push_back(counted(asio::make_strand(pool.get_executor())));
      rc.driver_homes = rc.executors;
      run_round(rc, 20, key, *t, nullptr);
      break;
    case variant::single_io:
    {
      asio::io_context io;
      rc.executors.push_back(counted(io.get_executor()));
      rc.driver_homes = rc.executors;
      run_round(rc, 20, key, *t, [&io] { io.run(); });
      break;
    }
    case variant::pool_strandless:
    {
      t = &strandless_totals;
      const auto inner = pool.get_executor();
      rc.strandless = true;
      rc.executors.push_back(counted(inner));
      rc.new_strand = [inner] { return counted(asio::make_strand(inner)); };
      rc.driver_homes = {rc.executors[0], rc.new_strand(), counted(drivers.executor())};
      run_round(rc, 20, key, *t, nullptr);
      break;
    }
    case variant::io_two_threads:
    {
      t = &strandless_totals;
      asio::io_context io(2);
      const auto inner = io.get_executor();
      rc.strandless = true;
      rc.executors.push_back(counted(inner));
      rc.new_strand = [inner] { return counted(asio::make_strand(inner)); };
      rc.driver_homes = {rc.executors[0], rc.new_strand(), counted(drivers.executor())};
      run_round(rc, 20, key, *t, [&io] {
        std::thread second([&io] { io.run(); });
        io.run();
        second.join();
      });
      break;
    }
    }
    t->seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  }
  pool.join();

  if (frames_made != cleanup_clock)
    violated("every cleanup ran exactly once");
  if (order_violations != 0)
    violated("cleanup innermost first");
  if (strand_mode)
    print("strand", strand_totals);
  if (strandless_mode)
    print("no-strand", strandless_totals);
  std::printf("chaos: %ld violations, peak RSS %ld KiB\n", violations.load(), peak_rss_kib());
  return violations == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
