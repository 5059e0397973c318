//
// test/fuzz/control_api.cpp: a libFuzzer target over coflow's control API.
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// The input bytes are decoded into a sequence of operations on a small set
// of deferreds, coroutines and Asio operations (create a deferred, fire,
// errback, create a coroutine that awaits a deferred (directly, in a child,
// a tail call, or through a join, a race, a timeout or a task group), or awaits or tail-calls
// a coroutine of the set, or awaits a fuzz operation; spawn, add a consumer,
// pause, unpause, cancel (also from a handler), drop a handle, run one or all
// ready handlers, resolve a pending fuzz operation, destroy the context); the
// bodies await deferreds, inline children, tail calls and Asio operations. A
// coroutine is spawned on the context, or on a strand of it (its body and
// the children it awaits at once then run on the strand).
//
// A fuzz operation is an Asio operation (asio::async_initiate, awaited with
// coflow::use_coroutine) whose behaviour the input chooses, per operation:
// it completes inside its initiation, or later (posted, or at a later step),
// or from its cancellation handler (inline, dispatched or posted), or from a
// helper thread (while await_suspend runs, or later while this thread
// waits); it destroys its handler inside its initiation (on this thread or
// the helper's) or later (on either thread); it throws before handing its
// handler on, or after (the handler is then stale: completing or dropping it
// later does nothing), or after completing inline. Its value or its failure
// is known, so the value checks cover it. Its initiation may also pause,
// unpause or cancel a coroutine of the set (its own, one that awaits it, or
// another), at its start or once the handler is handed on (after an inline
// completion, on the helper thread before it completes or drops the
// handler, after the handler is kept): the control calls a third thread
// makes while a body is between its suspension and its operation's
// hand-over. The body may make one too just before its co_await (a pause
// is then forwarded at the suspension), and may await a posting child
// after the operation (a second suspension, where a pause must be
// forwarded anew).
//
// A kept handler belongs to the operations' execution-context service
// (built when the operation is created or when it is initiated, as the input
// chooses, so before or after coflow's waiter registry), which destroys it
// unused at the context's shutdown, as Asio's services destroy their pending
// operations.
//
// Destroying the context (a rare step: "run every ready handler" with the
// argument 0xfb, then a mode byte) ends the input there: the helper thread
// is idle, the harness may drop its deferred and coroutine handles first,
// and the io_context goes while bodies are suspended, paused, cancelled and
// unwinding, nested, in tail calls, waiting on deferreds, children and fuzz
// operations, with starts, completions, resumptions and cancels queued, in
// the context or in the strand. (Asio: nothing that holds a copy of a
// strand may outlive its context; once the strand was used, the harness
// drops every coroutine handle, then the strand, before the context.) Then
// (misuse.md: every suspended frame is destroyed once, parents after
// children; waiting consumers are destroyed without being invoked; nothing
// leaks):
//   - every frame whose body ran is gone (live frames 0), each cleanup ran
//     once, and every child frame went before its parent's;
//   - no consumer was invoked by the destruction, none twice, and every
//     consumer's handler is destroyed (none survives its context); what was
//     delivered before is checked as at the end;
//   - no body was resumed by it; what each saw before is checked as at the
//     end; no kept handler outlives its context;
//   - the harness then drops its handles (coroutines or deferreds first, as
//     chosen): dropping a handle after its context is gone is safe, and the
//     frames that never ran go with the last one (live frame parameters 0).
// Calling pause(), unpause() or cancel() on those handles before dropping
// them is not promised by the docs; COFLOW_FUZZ_CONTROL_AFTER_SHUTDOWN=1
// adds it (with a deferred's pause, unpause, cancel and callback).
// The strand is made at the first "spawn on the strand": its service shuts
// down before coflow's waiter registry if something was spawned before (a
// queued resumption is then dropped before the registry tells a shutdown),
// after it otherwise; the input chooses.
//
// At the end everything is released and run to completion, pending fuzz
// operations are completed (or dropped, as chosen), the helper thread's work
// is waited for, and the invariants are checked:
//   - every consumer got exactly one delivery;
//   - a coroutine delivered a value only if it was not cancelled first, and
//     that value is the one computed from the values the deferreds and the
//     operations were given (nothing lost or mixed up while paused);
//   - a delivered error is cancelled_error or the one its dependencies
//     produced (an errback, an operation's failure, its dropped handler, its
//     initiation's exception);
//   - each body saw at its co_await what its operation's behaviour implies
//     (misuse.md: the value, or cancelled_error; std::logic_error for a
//     handler destroyed unused, inside the initiation or later, then
//     through the executor, never inside the drop; the initiation's
//     exception), and ran to its end; a stale handler completed or dropped
//     changes nothing;
//   - every frame was destroyed exactly once (live frames back to 0, also
//     the frames of coroutines that never started), every cleanup ran
//     exactly once, and every child frame went before its parent's;
//   - every consumer's handler was destroyed once it had been called;
//   - run() returned.
// A violated invariant aborts: libFuzzer reports it with the input.
//
// Build: CMake preset `fuzz` (clang++ 14, -fsanitize=fuzzer,address,undefined).
//

#include <coflow/coroutine.hpp>
#include <coflow/deferred.hpp>
#include <coflow/error.hpp>
#include <coflow/join.hpp>
#include <coflow/race.hpp>
#include <coflow/sleep.hpp>
#include <coflow/spawn.hpp>
#include <coflow/tail_call.hpp>
#include <coflow/task_group.hpp>
#include <coflow/timeout.hpp>
#include <coflow/unhandled_error.hpp>
#include <coflow/use_coroutine.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using coflow::coroutine;
using coflow::deferred;

namespace {

// Atomic: a body resumed on the helper thread counts there (while this
// thread waits for it).
std::atomic<long> live_frames{0};
std::atomic<long> cleanups{0};
std::atomic<long> frames_made{0};

void check(bool ok, const char* what)
{
  if (!ok)
  {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

/// Lives in every frame: counts frames and runs its cleanup once. A child
/// awaited at once (inline, not a tail call) names its parent's guard:
/// every child frame goes before its parent's (misuse.md: "parents after
/// children", at the context's shutdown as at any other time).
struct frame_guard
{
  explicit frame_guard(frame_guard* parent = nullptr) : parent_(parent)
  {
    ++live_frames, ++frames_made;
    if (parent_)
      ++parent_->children_;
  }
  frame_guard(const frame_guard&) = delete;
  ~frame_guard()
  {
    check(children_ == 0, "a parent frame is destroyed after its children's");
    if (parent_)
      --parent_->children_;
    --live_frames;
    ++cleanups;
  }

private:
  frame_guard* parent_;
  std::atomic<int> children_{0};
};

/// A parameter of every coroutine function: it lives in the frame from the
/// call on, so it counts frames whose body never ran too (unstarted ones,
/// dropped or abandoned with their context): back to 0 once everything is
/// released.
std::atomic<long> live_params{0};
struct frame_param
{
  frame_param() noexcept { ++live_params; }
  frame_param(const frame_param&) noexcept { ++live_params; }
  frame_param& operator=(const frame_param&) = default;
  ~frame_param() { --live_params; }
};

// --- the helper thread ---------------------------------------------------------

/// A second io_context run by a std::thread, for the operations that complete
/// (or drop their handler) on another thread. The harness waits for it with
/// wait_idle(), so what it does is ordered before the next step and before
/// the checks.
class helper_thread
{
public:
  helper_thread() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  helper_thread(const helper_thread&) = delete;
  ~helper_thread()
  {
    work_.reset();
    thread_.join();
  }

  /// Runs @p f on the helper thread; what @p f holds (a handler) is
  /// destroyed there too, before the job counts as done.
  template <class Function>
  void post(Function f)
  {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++posted_;
    }
    asio::post(io_, [this, f = std::move(f)]() mutable {
      {
        Function job = std::move(f);
        job();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      ++done_;
      idle_.notify_all();
    });
  }

  /// Returns once every job posted so far has run.
  void wait_idle()
  {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return done_ == posted_; });
  }

private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::mutex mutex_;
  std::condition_variable idle_;
  unsigned long posted_ = 0;
  unsigned long done_ = 0;
  std::thread thread_; // last: starts once the rest exists
};

helper_thread& helper()
{
  static helper_thread h;
  return h;
}

// --- the fuzz operation ----------------------------------------------------------

/// What a fuzz operation does with its handler; chosen by the input.
enum class behaviour : unsigned char
{
  inline_value,        // completes inside its initiation
  posted,              // posts its completion to the coroutine's executor
  later,               // completes at a later step (or at the end)
  thread_inside,       // the helper thread completes it while await_suspend runs
  thread_later,        // the helper thread completes it at a later step
  drop_inside,         // destroys its handler inside its initiation
  drop_inside_thread,  // the helper thread destroys it while await_suspend runs
  drop_later,          // destroys it at a later step: logic_error, through the executor
  throw_before,        // throws before handing its handler on
  throw_after,         // keeps its handler and throws: the handler is stale
  throw_after_thread,  // hands it to the helper thread, throws (they race)
  complete_then_throw, // completes inline, then throws: the exception wins
  count
};

/// What a kept handler's cancellation handler does when terminal is emitted.
enum class on_cancel : unsigned char { ignore, complete_inline, complete_dispatched, complete_posted };

/// What a body saw at a co_await, or a consumer received.
enum class outcome : unsigned char
{
  nothing,   // no result (yet), or: no failure expected
  value,     // the operation's value
  cancelled, // coflow::cancelled_error
  errback,   // the deferred's errback (std::runtime_error "fuzz")
  failed,    // the operation completed with op_failure
  dropped,   // std::logic_error: the handler was destroyed unused
  thrown,    // the initiation's initiation_error
  other      // anything else: always a violation
};

/// Thrown by the initiations that throw.
struct initiation_error : std::runtime_error
{
  initiation_error() : std::runtime_error("fuzz: the initiation failed") {}
};

/// The error code of a fuzz operation that fails.
const boost::system::error_code op_failure = asio::error::connection_reset;

outcome classify(const std::exception_ptr& e)
{
  try
  {
    std::rethrow_exception(e);
  }
  catch (const coflow::cancelled_error&)
  {
    return outcome::cancelled;
  }
  catch (const initiation_error&)
  {
    return outcome::thrown;
  }
  catch (const boost::system::system_error& x)
  {
    return x.code() == op_failure ? outcome::failed : outcome::other;
  }
  catch (const std::logic_error& x)
  {
    return std::string_view(x.what())
            == "coflow: the awaited operation destroyed its handler without calling it"
        ? outcome::dropped
        : outcome::other;
  }
  catch (const std::runtime_error& x)
  {
    return std::string_view(x.what()) == "fuzz" ? outcome::errback : outcome::other;
  }
  catch (...)
  {
    return outcome::other;
  }
}

/// A type-erased, shareable holder of a kept handler: completed or dropped
/// once, by whoever comes first (a step, a posted job, the cancellation
/// handler, the helper thread); later calls do nothing.
class handler_box
{
public:
  virtual ~handler_box() = default;
  /// @returns false if the handler was already completed or dropped.
  virtual bool complete(boost::system::error_code ec, int v) = 0;
  virtual bool drop() = 0;
  /// Whether the handler is still here (neither completed nor dropped).
  virtual bool holds() const = 0;
};

template <class Handler>
class handler_box_for final : public handler_box
{
public:
  explicit handler_box_for(Handler h) : handler_(std::move(h)) {}

  bool complete(boost::system::error_code ec, int v) override
  {
    if (!handler_)
      return false;
    Handler h = std::move(*handler_);
    handler_.reset();
    std::move(h)(ec, v);
    return true;
  }

  bool drop() override
  {
    if (!handler_)
      return false;
    handler_.reset();
    return true;
  }

  bool holds() const override { return handler_.has_value(); }

private:
  std::optional<Handler> handler_;
};

/// The service of the fuzz operations, as an Asio I/O object's service: it
/// owns the handlers they keep, and its shutdown() destroys those not yet
/// completed or dropped, unused, as Asio's services destroy pending
/// operations when their execution context goes. Whether it was built before
/// coflow's waiter registry (then shut down after it, and the library sees
/// the drops as its context's shutdown) or after it (shut down first: the
/// drops look like any other drop, and the resumptions they post die unrun
/// in the strand's or the scheduler's shutdown) is the input's choice (see
/// op_record::early_service).
class fuzz_op_service : public asio::execution_context::service
{
public:
  static inline asio::execution_context::id id;

  explicit fuzz_op_service(asio::execution_context& context)
    : asio::execution_context::service(context)
  {
  }

  void keep(std::shared_ptr<handler_box> box)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    boxes_.push_back(std::move(box));
  }

  /// Handlers this process's shutdowns destroyed unused (for the report).
  static inline std::atomic<unsigned long> dropped_at_shutdown{0};

private:
  void shutdown() override
  {
    // Dropping a handler may destroy frames, and with them other records'
    // references: the boxes are held here while they go.
    for (;;)
    {
      std::vector<std::shared_ptr<handler_box>> boxes;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        boxes.swap(boxes_);
      }
      if (boxes.empty())
        return;
      for (auto& b : boxes)
        if (b->drop())
          ++dropped_at_shutdown;
    }
  }

  std::mutex mutex_;
  std::vector<std::shared_ptr<handler_box>> boxes_;
};

/// One fuzz operation: its behaviour, and what its body saw. Shared by the
/// harness and the body's frame.
struct op_record
{
  behaviour how = behaviour::inline_value;
  on_cancel reaction = on_cancel::ignore;
  bool fails = false; // completes with op_failure instead of the value
  /// How a later step resolves it: posted to the context instead of at once
  /// (later), on the helper thread (drop_later), dropped instead of
  /// completed (throw_after, throw_after_thread).
  bool alternate = false;
  /// Its service is built when the operation is created (before any spawn
  /// builds coflow's waiter registry, if it is the first), not when it is
  /// initiated (after).
  bool early_service = false;
  asio::io_context* context = nullptr;
  int value = 0;
  /// A control call (pause, unpause or cancel of a coroutine of the set)
  /// the initiation makes, set by the harness.
  std::function<void()> control;
  /// One the body makes just before its co_await (while it runs: a pause
  /// is then forwarded at the suspension).
  std::function<void()> control_in_body;
  /// After the operation, the body awaits a child that posts: a second
  /// suspension, where a pause must be forwarded anew (and a stale target
  /// of the first would be called).
  bool second_await = false;
  /// Where the initiation makes it: at its start, or once the handler is
  /// handed on (after an inline completion; on the helper thread, before it
  /// completes or drops the handler; after the handler is kept).
  bool control_at_hand_over = false;
  /// The control was a cancel, or a pause that holds the wake-up (of this
  /// body or of what awaits it) until a later cancel (the harness's, at the
  /// latest at the end): the body may see cancelled_error instead of an
  /// outcome it would otherwise always see (doc/coroutine.md, cancel(): the
  /// body resumes with cancelled_error at its suspension point).
  bool cancel_may_win = false;

  bool initiated = false;
  bool resolved = false; // a step (or the end) completed or dropped it
  std::shared_ptr<handler_box> box; // the kept handler
  outcome seen = outcome::nothing;
  int seen_value = 0;
  bool frame_alive = false; // the frame of the body that awaits it

  boost::system::error_code completion_code() const
  {
    return fails ? op_failure : boost::system::error_code();
  }

  /// Whether the body gets the operation's own completion (when the
  /// coroutine is not cancelled).
  bool completes() const
  {
    switch (how)
    {
    case behaviour::inline_value:
    case behaviour::posted:
    case behaviour::later:
    case behaviour::thread_inside:
    case behaviour::thread_later:
      return true;
    default:
      return false;
    }
  }

  /// The value the awaiting body gets, if it gets one.
  std::optional<int> expected_value() const
  {
    if (completes() && !fails)
      return value;
    return std::nullopt;
  }

  /// The error the awaiting body gets if it gets one other than the cancel.
  outcome expected_failure() const
  {
    switch (how)
    {
    case behaviour::drop_inside:
    case behaviour::drop_inside_thread:
    case behaviour::drop_later:
      return outcome::dropped;
    case behaviour::throw_before:
    case behaviour::throw_after:
    case behaviour::throw_after_thread:
    case behaviour::complete_then_throw:
      return outcome::thrown;
    default:
      return fails ? outcome::failed : outcome::nothing;
    }
  }

  /// What the body saw, once everything ran; or, if @p abandoned, once the
  /// context was destroyed (a body suspended then saw nothing, and the
  /// shutdown resumed none: what it saw before is checked as usual).
  void check_seen(bool abandoned = false) const
  {
    if (seen == outcome::value)
      check(seen_value == value, "a body got its own operation's value");
    if (!initiated)
    {
      // Never started, or cancelled first (the co_await throws at once).
      check(seen == outcome::nothing || seen == outcome::cancelled,
          "a body whose operation was never initiated saw nothing or the cancel");
      return;
    }
    check(!frame_alive,
        abandoned ? "a body suspended at the context's destruction was destroyed with it"
                  : "a body that initiated its operation ran to its end");
    if (abandoned && seen == outcome::nothing)
      return;
    if (cancel_may_win && seen == outcome::cancelled)
      return;
    const outcome result = fails ? outcome::failed : outcome::value;
    switch (how)
    {
    case behaviour::inline_value:
    case behaviour::thread_inside:
      check(seen == result, "an operation completed inside await_suspend: the body got its result");
      break;
    case behaviour::posted:
    case behaviour::later:
    case behaviour::thread_later:
      check(seen == result || seen == outcome::cancelled,
          "an operation completed later: the body got its result, or cancelled_error");
      break;
    case behaviour::drop_inside:
    case behaviour::drop_inside_thread:
      check(seen == outcome::dropped,
          "a handler destroyed inside the initiation: std::logic_error at the co_await");
      break;
    case behaviour::drop_later:
      check(seen == outcome::dropped || seen == outcome::cancelled,
          "a handler destroyed after the initiation: std::logic_error at the co_await, or cancelled_error");
      break;
    default: // the throwing ones
      check(seen == outcome::thrown, "an initiation that throws: its exception at the co_await");
      break;
    }
  }
};

/// The initiation of a fuzz operation, on the thread that awaits it (inside
/// the body's await_suspend).
template <class Handler>
void initiate(const std::shared_ptr<op_record>& r, Handler&& handler)
{
  r->initiated = true;
  const boost::system::error_code ec = r->completion_code();
  const int v = r->value;
  // The control call, if the input chose one, at the point it chose: while
  // the body is between its suspension and the operation's hand-over, a
  // pause, unpause or cancel of it (or of what awaits it, or of another
  // coroutine) races the completion, as a third thread's would.
  auto control_at = [&r](bool hand_over) {
    if (r->control && r->control_at_hand_over == hand_over)
      r->control();
  };
  control_at(false);
  switch (r->how)
  {
  case behaviour::inline_value:
    std::move(handler)(ec, v);
    control_at(true);
    return;
  case behaviour::thread_inside:
    // This thread waits meanwhile: the helper may touch the harness.
    helper().post([h = std::move(handler), ec, v, control_at]() mutable {
      control_at(true);
      std::move(h)(ec, v);
    });
    helper().wait_idle();
    return;
  case behaviour::drop_inside:
  {
    auto dropped = std::move(handler);
    control_at(true);
    return;
  }
  case behaviour::drop_inside_thread:
    helper().post([h = std::move(handler), control_at]() mutable {
      control_at(true);
      auto dropped = std::move(h);
    });
    helper().wait_idle();
    return;
  case behaviour::throw_before:
    control_at(true);
    throw initiation_error();
  case behaviour::complete_then_throw:
    std::move(handler)(ec, v);
    control_at(true);
    throw initiation_error();
  case behaviour::throw_after_thread:
    // Not waited for here: the helper completes or drops the handler while
    // this thread throws, or after (the harness waits before the next step).
    // The control call is this thread's, racing the helper's completion.
    helper().post([h = std::move(handler), ec, v, drop = r->alternate]() mutable {
      if (drop)
      {
        auto dropped = std::move(h);
      }
      else
        std::move(h)(ec, v);
    });
    control_at(true);
    throw initiation_error();
  default: // posted, later, thread_later, drop_later, throw_after: kept
    break;
  }
  // The slot and the executor are the handler's only while its initiation
  // runs: read them now.
  auto slot = asio::get_associated_cancellation_slot(handler);
  auto ex = asio::get_associated_executor(handler);
  auto box = std::make_shared<handler_box_for<std::decay_t<Handler>>>(std::move(handler));
  r->box = box;
  asio::use_service<fuzz_op_service>(*r->context).keep(box);
  if (r->reaction != on_cancel::ignore && slot.is_connected())
  {
    slot.assign([w = std::weak_ptr<handler_box>(box), ex, reaction = r->reaction](
                    asio::cancellation_type) {
      // Completing the handler clears the slot, which destroys this
      // closure: copy what it holds first, touch nothing of it after.
      std::shared_ptr<handler_box> b = w.lock();
      const auto e = ex;
      const on_cancel how = reaction;
      if (!b)
        return;
      const auto aborted = asio::error::operation_aborted;
      switch (how)
      {
      case on_cancel::complete_inline:
        (void)b->complete(aborted, 0);
        break;
      case on_cancel::complete_dispatched: // inline when cancel() runs inside the context
        asio::dispatch(e, [b] { (void)b->complete(aborted, 0); });
        break;
      default:
        asio::post(e, [b] { (void)b->complete(aborted, 0); });
        break;
      }
    });
  }
  if (r->how == behaviour::posted)
    asio::post(ex, [box, ec, v] { (void)box->complete(ec, v); });
  control_at(true);
  if (r->how == behaviour::throw_after)
    throw initiation_error();
}

template <class Token>
auto async_fuzz(std::shared_ptr<op_record> r, Token&& token)
{
  return asio::async_initiate<Token, void(boost::system::error_code, int)>(
      [](auto&& handler, std::shared_ptr<op_record> rec) {
        initiate(rec, std::forward<decltype(handler)>(handler));
      },
      token, std::move(r));
}

/// Marks the record while the frame that awaits its operation exists.
struct frame_presence
{
  explicit frame_presence(std::shared_ptr<op_record> rec) : r(std::move(rec))
  {
    r->frame_alive = true;
  }
  frame_presence(const frame_presence&) = delete;
  ~frame_presence() { r->frame_alive = false; }
  std::shared_ptr<op_record> r;
};

// --- the bodies ------------------------------------------------------------------

/// @p parent: the guard of the frame that awaits it at once, if one does.
coroutine<int> leaf(deferred<int> d, frame_guard* parent = nullptr, frame_param = {})
{
  frame_guard g(parent);
  co_return co_await d + 1;
}

/// What a body adds to the value it awaits; see expected_value().
constexpr int deferred_body_adds[8] = {0, 1, 1, 0, 0, 0, 0, 0};

coroutine<void> posts(asio::io_context& io)
{
  co_await asio::post(io, coflow::use_coroutine);
}

/// Kinds 4 to 7 await the deferred through a combinator (DESIGN.md §7)
/// that gives its value unchanged: a join with a posting branch, a race
/// against an hour's sleep, an hour's timeout, a task group whose body
/// awaits it while a posting child runs. (Each combinator is named before
/// its co_await: g++ 12 destroys a co_await's temporaries twice when it
/// throws.)
coroutine<int> on_deferred(int kind, deferred<int> d, asio::io_context& io, frame_param = {})
{
  frame_guard g;
  switch (kind % 8)
  {
  case 0:
    co_return co_await d;
  case 1:
    co_return co_await leaf(d, &g);
  case 2:
    co_return co_await coflow::tail_call(leaf(d));
  case 3:
    co_await asio::post(io, coflow::use_coroutine);
    co_return co_await d;
  case 4:
  {
    auto both = coflow::join(d, posts(io));
    co_return std::get<0>(co_await std::move(both));
  }
  case 5:
  {
    auto first = coflow::race(d, coflow::sleep(std::chrono::hours(1)));
    co_return std::get<0>(co_await std::move(first));
  }
  case 6:
  {
    auto bounded = coflow::timeout(std::chrono::hours(1), d);
    co_return co_await std::move(bounded);
  }
  default:
  {
    int v = 0;
    auto group = coflow::with_task_group([&](coflow::task_group& tasks) -> coroutine<void> {
      tasks.spawn(posts(io));
      v = co_await d;
    });
    co_await std::move(group);
    co_return v;
  }
  }
}

/// Awaits, or tail-calls, a coroutine of the set: the set is a tree of
/// coroutines that share children (an unstarted one starts as a child).
coroutine<int> on_coroutine(bool tail, coroutine<int> c, frame_param = {})
{
  frame_guard g;
  if (tail)
    co_return co_await coflow::tail_call(c);
  co_return co_await c + 1;
}

/// Awaits a fuzz operation and records what it saw there.
coroutine<int> awaits_operation(
    std::shared_ptr<op_record> r, int adds, frame_guard* parent = nullptr, frame_param = {})
{
  frame_guard g(parent);
  frame_presence p(r);
  int v = 0;
  if (r->control_in_body)
    r->control_in_body();
  try
  {
    v = co_await async_fuzz(r, coflow::use_coroutine);
  }
  catch (...)
  {
    r->seen = classify(std::current_exception());
    throw;
  }
  r->seen = outcome::value;
  r->seen_value = v;
  if (r->second_await)
    co_await posts(*r->context);
  co_return v + adds;
}

/// What a body adds to its operation's value, per kind (see on_operation).
constexpr int operation_body_adds[3] = {0, 1, 1};

/// Kind 1 awaits the operation in an inline child, kind 2 in a tail call;
/// kind 0 is awaits_operation itself.
coroutine<int> on_operation(bool tail, std::shared_ptr<op_record> r, frame_param = {})
{
  frame_guard g;
  if (tail)
    co_return co_await coflow::tail_call(awaits_operation(std::move(r), 1));
  co_return co_await awaits_operation(std::move(r), 1, &g);
}

// --- the model ---------------------------------------------------------------------

/// Counts the copies of a consumer's handler that exist: once the context
/// is gone, or once the consumer has been invoked and the context has run
/// out of work, none is left (destroyed unused at the shutdown, or after
/// its call).
struct handler_copies
{
  explicit handler_copies(std::atomic<int>& n) noexcept : n_(&n) { ++*n_; }
  handler_copies(const handler_copies& other) noexcept : n_(other.n_) { ++*n_; }
  handler_copies& operator=(const handler_copies&) = delete;
  ~handler_copies() { --*n_; }

private:
  std::atomic<int>* n_;
};

struct fuzz_state
{
  /// Destroyed by a step (see end_by_destroying_the_context), or last. On
  /// the heap of its own: ASan reports any use of it once it is gone.
  std::unique_ptr<asio::io_context> context = std::make_unique<asio::io_context>();
  asio::io_context& io() { return *context; }

  /// The strand of "spawn on the strand". Destroyed before the context, as
  /// everything holding a copy of it must be (Asio: the last copy of a
  /// strand locks its service's mutex in its destructor).
  using strand_type = asio::strand<asio::io_context::executor_type>;
  std::optional<strand_type> strand;
  bool spawned_on_strand = false;

  strand_type& get_strand()
  {
    if (!strand)
      strand.emplace(asio::make_strand(io()));
    return *strand;
  }
  struct deferred_entry
  {
    deferred<int> d;
    std::optional<int> value; // what callback() gave it, if it did
    bool errbacked = false;
    /// The harness's own pauses: the coroutines that await the deferred
    /// pause it too, and release their pauses themselves (on the
    /// deferred's executor, posted, when they run on the strand).
    unsigned pauses = 0;
  };
  std::vector<deferred_entry> deferreds;
  std::vector<std::shared_ptr<op_record>> ops;
  struct entry
  {
    coroutine<int> handle;
    int on_deferred = -1;  // the index of what it awaits: a deferred,
    int on_coroutine = -1; // a coroutine of the set,
    int on_operation = -1; // or a fuzz operation
    int adds = 0;
    unsigned pauses = 0;
    bool cancelled = false; // cancel() before it completed
  };
  std::vector<entry> coroutines;
  struct consumer
  {
    std::size_t coroutine = 0;
    int deliveries = 0;
    std::optional<int> value;
    std::exception_ptr error;
    std::atomic<int> handlers{0}; // copies of its handler alive
  };
  std::vector<std::unique_ptr<consumer>> consumers;
  /// The end's release has begun: a control call a body or an initiation
  /// makes from then on does nothing (a pause would hold its coroutine, and
  /// the context's work, for ever).
  bool releasing = false;

  /// The value entry @p i must deliver if it delivers one; none if what it
  /// depends on was never given a value (errback, cancel, an operation that
  /// fails or never completes).
  std::optional<int> expected_value(std::size_t i) const
  {
    const entry& e = coroutines[i];
    std::optional<int> v;
    if (e.on_deferred >= 0)
      v = deferreds[static_cast<std::size_t>(e.on_deferred)].value;
    else if (e.on_operation >= 0)
      v = ops[static_cast<std::size_t>(e.on_operation)]->expected_value();
    else
      v = expected_value(static_cast<std::size_t>(e.on_coroutine));
    if (v)
      *v += e.adds;
    return v;
  }

  /// The error other than cancelled_error that entry @p i may deliver.
  outcome expected_failure(std::size_t i) const
  {
    const entry& e = coroutines[i];
    if (e.on_deferred >= 0)
      return deferreds[static_cast<std::size_t>(e.on_deferred)].errbacked ? outcome::errback
                                                                          : outcome::nothing;
    if (e.on_operation >= 0)
      return ops[static_cast<std::size_t>(e.on_operation)]->expected_failure();
    return expected_failure(static_cast<std::size_t>(e.on_coroutine));
  }

  /// What a consumer received, if it received something, is right.
  void check_delivery(const consumer& k) const
  {
    const std::size_t i = k.coroutine;
    check(k.deliveries <= 1, "no consumer is called twice");
    if (k.value)
    {
      check(!coroutines[i].cancelled, "a coroutine cancelled before it completed delivered no value");
      check(k.value == expected_value(i), "a delivered value is the one the coroutine computed");
    }
    if (k.error)
    {
      const outcome got = classify(k.error);
      check(got == outcome::cancelled || got == expected_failure(i),
          "a delivered error is cancelled_error or the one the coroutine's dependencies produced");
    }
  }

  void attach_consumer(std::size_t i)
  {
    auto* c = consumers.emplace_back(std::make_unique<consumer>()).get();
    c->coroutine = i;
    coroutines[i].handle.async_wait([c, copy = handler_copies(c->handlers)](
                                        std::exception_ptr e, int v) {
      ++c->deliveries;
      if (!e)
        c->value = v;
      else
        c->error = e;
    });
  }

  /// Completes or drops @p r's kept handler, as its behaviour says (once).
  /// @returns whether there was one to resolve.
  bool resolve(op_record& r)
  {
    if (!r.box || r.resolved)
      return false;
    r.resolved = true;
    const std::shared_ptr<handler_box> box = r.box;
    const boost::system::error_code ec = r.completion_code();
    const int v = r.value;
    switch (r.how)
    {
    case behaviour::thread_later:
      // The body resumes on the helper thread, while this one waits.
      helper().post([box, ec, v] { (void)box->complete(ec, v); });
      helper().wait_idle();
      break;
    case behaviour::drop_later:
    {
      check(r.frame_alive && r.seen == outcome::nothing, "a kept handler belongs to a suspended body");
      if (r.alternate)
      {
        helper().post([box] { (void)box->drop(); });
        helper().wait_idle();
      }
      else
        (void)box->drop();
      // misuse.md: the body is resumed through its executor with
      // std::logic_error, never inside the drop.
      check(r.frame_alive && r.seen == outcome::nothing,
          "a handler destroyed after its initiation: the body does not resume inside the drop");
      break;
    }
    case behaviour::throw_after:
    {
      // Stale: the body got the initiation's exception.
      const long frames = live_frames;
      const outcome seen = r.seen;
      if (r.alternate)
        (void)box->drop();
      else
        (void)box->complete(ec, v);
      check(live_frames == frames && r.seen == seen,
          "a stale handler, completed or dropped later, touches nothing");
      break;
    }
    default: // posted, later
      if (r.alternate)
        asio::post(io(), [box, ec, v] { (void)box->complete(ec, v); });
      else
        (void)box->complete(ec, v);
      break;
    }
    return true;
  }
};

/// The argument of "run every ready handler" (0xfb) that destroys the
/// context instead.
constexpr unsigned destroy_selector = 30;
/// The argument of "run every ready handler" (0xe7) that spawns on the
/// strand instead.
constexpr unsigned strand_spawn_selector = 25;

#ifndef COFLOW_FUZZ_CONTROL_AFTER_SHUTDOWN
/// 1: after the context is destroyed, also call pause(), unpause() and
/// cancel() on the coroutine handles the harness still holds, and pause(),
/// unpause(), cancel() and callback() on its deferreds. The docs promise
/// nothing about handles used after their context is gone (only that the
/// context's destruction destroys the suspended frames, and that dropping a
/// handle is safe), so the committed target does not rely on it.
#define COFLOW_FUZZ_CONTROL_AFTER_SHUTDOWN 0
#endif

/// Figures of the whole run (printed at exit with COFLOW_FUZZ_STATS=1).
struct run_figures
{
  std::atomic<unsigned long> contexts_destroyed{0};
  std::atomic<unsigned long> frames_abandoned{0};     // bodies suspended at the destruction
  std::atomic<unsigned long> consumers_abandoned{0};  // waiting then, never invoked
  std::atomic<unsigned long> consumers_delivered{0};  // invoked before the destruction
  std::atomic<unsigned long> ops_pending{0};          // initiated, not resolved, frame alive
};
run_figures figures;

/// The last step of an input that destroys the context (DESIGN.md §4,
/// "Lifetime and threads"; misuse.md, "destroying the execution context
/// while coroutines are suspended"): whatever is suspended, paused,
/// cancelled and unwinding, nested, in a tail call, waiting on a deferred,
/// a child or a fuzz operation, or queued in the context, goes with it.
/// @p mode: bit 0 drops the harness's deferred handles first, bit 1 its
/// coroutine handles (a handle dropped while paused keeps its coroutine
/// paused): then only the context breaks the cycles that frames, deferreds
/// and kept handlers form; bit 2 (COFLOW_FUZZ_CONTROL_AFTER_SHUTDOWN only)
/// uses the handles left afterwards; bit 3 drops the coroutine handles
/// before the deferred ones afterwards (else after).
void end_by_destroying_the_context(std::unique_ptr<fuzz_state> s, unsigned mode)
{
  // The helper thread is idle between steps (the caller waited for it):
  // no job of it runs, or holds a handler of this context, while the
  // context goes, so the harness adds no race of its own.
  std::vector<int> deliveries;
  for (auto& k : s->consumers)
    deliveries.push_back(k->deliveries);
  std::vector<outcome> seen;
  for (auto& r : s->ops)
  {
    seen.push_back(r->seen);
    if (r->initiated && r->frame_alive && r->box && r->box->holds())
      ++figures.ops_pending;
  }
  if (mode & 1)
    for (auto& d : s->deferreds)
      d.d = {};
  // Asio: nothing that holds a copy of a strand may outlive its context.
  // A coroutine spawned on the strand holds one in its coroutine state, and so may
  // every handle (an unstarted frame holds the handles it awaits): with a
  // strand in use, the harness drops them all first, then its strand.
  if ((mode & 2) || s->spawned_on_strand)
    for (auto& c : s->coroutines)
      c.handle = {};
  s->strand.reset();
  figures.frames_abandoned += static_cast<unsigned long>(live_frames.load());

  s->context.reset(); // shutdown: the services, coflow's registry, the queue
  ++figures.contexts_destroyed;

  // misuse.md: every suspended frame is destroyed once, parents after
  // children (frame_guard checks that), waiting consumers are destroyed
  // without being invoked, nothing leaks.
  check(live_frames == 0, "every frame whose body ran was destroyed, at the latest with its context");
  check(cleanups == frames_made, "every cleanup ran once");
  for (std::size_t k = 0; k < s->consumers.size(); ++k)
  {
    const auto& consumer = *s->consumers[k];
    check(consumer.deliveries == deliveries[k], "the context's destruction invokes no consumer");
    check(consumer.handlers == 0,
        "a consumer's handler is destroyed with its context, unless it was called before");
    s->check_delivery(consumer);
    ++(consumer.deliveries ? figures.consumers_delivered : figures.consumers_abandoned);
  }
  for (std::size_t k = 0; k < s->ops.size(); ++k)
  {
    const op_record& r = *s->ops[k];
    check(r.seen == seen[k], "the context's destruction resumes no body");
    r.check_seen(true);
    check(!r.box || !r.box->holds(), "no kept handler outlives its context");
  }

#if COFLOW_FUZZ_CONTROL_AFTER_SHUTDOWN
  if (mode & 4)
  {
    for (auto& c : s->coroutines)
      if (c.handle)
      {
        const long frames = live_frames;
        c.handle.pause();
        c.handle.unpause();
        c.handle.cancel();
        check(live_frames == frames, "a control call after the context is gone runs no body");
      }
    for (auto& d : s->deferreds)
      if (d.d)
      {
        d.d.pause();
        d.d.unpause();
        d.d.cancel();
        if (!d.d.called())
          d.d.callback(1);
      }
    for (auto& k : s->consumers)
      check(k->handlers == 0 && k->deliveries <= 1, "no consumer is called after its context is gone");
  }
#endif

  // Release what the harness holds, in the order the input chose: the
  // frames of coroutines that never started go with their last handle.
  if (mode & 8)
    s->coroutines.clear();
  s->deferreds.clear();
  s->coroutines.clear();
  s->ops.clear();
  s.reset();
  check(live_frames == 0, "every frame destroyed");
  check(cleanups == frames_made, "every cleanup ran once");
  check(live_params == 0, "every frame destroyed, also those whose body never ran");
}

void run(const std::uint8_t* data, std::size_t size)
{
  auto s = std::make_unique<fuzz_state>();
  auto byte = [&](std::size_t& i) -> unsigned { return i < size ? data[i++] : 0; };

  for (std::size_t i = 0; i < size;)
  {
    const unsigned op = byte(i) % 12;
    const unsigned arg = byte(i);
    auto pick_deferred = [&]() -> fuzz_state::deferred_entry* {
      return s->deferreds.empty() ? nullptr : &s->deferreds[arg % s->deferreds.size()];
    };
    auto pick_index = [&](unsigned a = 0, bool by_a = false) -> std::optional<std::size_t> {
      if (s->coroutines.empty())
        return std::nullopt;
      return (by_a ? a : arg) % s->coroutines.size();
    };
    auto pick_coroutine = [&]() -> fuzz_state::entry* {
      auto i = pick_index();
      return i ? &s->coroutines[*i] : nullptr;
    };
    switch (op)
    {
    case 0: // create a deferred, with or without a canceller
      if (s->deferreds.size() < 8)
      {
        if (arg & 1)
          s->deferreds.push_back({deferred<int>(s->io(), [](deferred<int>&) {}), std::nullopt});
        else
          s->deferreds.push_back({deferred<int>(s->io()), std::nullopt});
      }
      break;
    case 1: // fire
      if (auto* d = pick_deferred(); d && !d->d.called())
      {
        d->d.callback(static_cast<int>(arg));
        d->value = static_cast<int>(arg);
      }
      break;
    case 2: // errback
      if (auto* d = pick_deferred(); d && !d->d.called())
      {
        d->d.errback(std::make_exception_ptr(std::runtime_error("fuzz")));
        d->errbacked = true;
      }
      break;
    case 3: // create a coroutine that awaits a deferred
      if (s->deferreds.size() > 0 && s->coroutines.size() < 10)
      {
        const std::size_t d = arg % s->deferreds.size();
        const int kind = static_cast<int>(arg / 16 % 8);
        s->coroutines.push_back({on_deferred(kind, s->deferreds[d].d, s->io()),
            static_cast<int>(d), -1, -1, deferred_body_adds[kind]});
      }
      break;
    case 4: // create a coroutine that awaits, or tail-calls, one of the set
      if (auto c = pick_index(); c && s->coroutines[*c].handle && s->coroutines.size() < 10)
      {
        const bool tail = arg & 0x80;
        s->coroutines.push_back({on_coroutine(tail, s->coroutines[*c].handle), -1,
            static_cast<int>(*c), -1, tail ? 0 : 1});
      }
      break;
    case 5: // spawn, with one consumer
      if (auto c = pick_index(); c && s->coroutines[*c].handle && !s->coroutines[*c].handle.started())
      {
        (void)coflow::spawn(s->io(), s->coroutines[*c].handle);
        s->attach_consumer(*c);
      }
      break;
    case 6: // one more consumer of a started coroutine
      if (auto c = pick_index(); c && s->coroutines[*c].handle && s->coroutines[*c].handle.started())
        s->attach_consumer(*c);
      break;
    case 7: // pause
      if (auto* c = pick_coroutine(); c && c->handle)
        c->handle.pause(), ++c->pauses;
      else if (auto* d = pick_deferred())
        d->d.pause(), ++d->pauses;
      break;
    case 8: // unpause
      if (auto* c = pick_coroutine(); c && c->handle && c->pauses > 0)
        c->handle.unpause(), --c->pauses;
      break;
    case 9: // cancel
      if (auto* c = pick_coroutine(); c && c->handle)
      {
        if (!c->handle.called())
          c->cancelled = true;
        c->handle.cancel();
      }
      else if (auto* d = pick_deferred())
        d->d.cancel();
      break;
    case 10: // drop a handle (a spawned coroutine, or an awaited one, goes on)
      if (auto* c = pick_coroutine(); c && c->handle && (arg & 1))
      {
        while (c->pauses > 0)
          c->handle.unpause(), --c->pauses;
        c->handle = {};
      }
      break;
    default:
      if (arg < 0x80) // run one handler (the committed seeds decode as before)
      {
        s->io().restart();
        (void)s->io().poll_one();
        break;
      }
      switch (const unsigned sel = arg >> 2 & 0x1f; arg & 3)
      {
      case 0: // create a coroutine that awaits a fuzz operation
      {
        const unsigned how = byte(i);
        const unsigned plan = byte(i);
        if (s->ops.size() < 8 && s->coroutines.size() < 10)
        {
          auto r = std::make_shared<op_record>();
          r->how = static_cast<behaviour>(how % static_cast<unsigned>(behaviour::count));
          // An operation that never completes ignores cancellation too.
          if (r->how != behaviour::drop_later)
            r->reaction = static_cast<on_cancel>(plan & 3);
          r->fails = plan & 4;
          r->alternate = plan & 8;
          r->early_service = plan & 16;
          r->context = &s->io();
          if (r->early_service)
            (void)asio::use_service<fuzz_op_service>(s->io());
          r->value = 1000 * static_cast<int>(s->ops.size() + 1) + static_cast<int>(how >> 4);
          // The control calls of the initiation (plan's high bits) and of
          // the body before its await (sel / 3): of this operation's own
          // coroutine, or of the set's coroutine chosen by how's high bits.
          const std::size_t target = how & 0x10 ? s->coroutines.size() : how >> 5;
          auto control = [st = s.get(), rec = r.get(), target](unsigned action) {
            return [st, rec, target, action] {
              fuzz_state::entry& e = st->coroutines[target % st->coroutines.size()];
              if (!e.handle || st->releasing)
                return;
              rec->cancel_may_win = rec->cancel_may_win || action != 2;
              if (action == 1)
                e.handle.pause(), ++e.pauses;
              else if (action == 2 && e.pauses > 0)
                e.handle.unpause(), --e.pauses;
              else if (action == 3)
              {
                if (!e.handle.called())
                  e.cancelled = true;
                e.handle.cancel();
              }
            };
          };
          if (const unsigned action = plan >> 5 & 3; action != 0)
          {
            r->control = control(action);
            r->control_at_hand_over = plan & 0x80;
          }
          if (const unsigned action = sel / 3 >> 1 & 3; action != 0)
            r->control_in_body = control(action);
          r->second_await = sel / 3 & 1;
          const int kind = static_cast<int>(sel % 3);
          coroutine<int> c = kind == 0 ? awaits_operation(r, 0) : on_operation(kind == 2, r);
          s->coroutines.push_back(
              {std::move(c), -1, -1, static_cast<int>(s->ops.size()), operation_body_adds[kind]});
          s->ops.push_back(std::move(r));
        }
        break;
      }
      case 1: // complete (or drop) a pending fuzz operation
        if (!s->ops.empty())
          (void)s->resolve(*s->ops[sel % s->ops.size()]);
        break;
      case 2: // cancel from a handler: a dispatch in the operation's
              // cancellation handler then runs inline
        if (auto c = pick_index(sel, true); c && s->coroutines[*c].handle)
        {
          asio::post(s->io(), [st = s.get(), idx = *c, h = s->coroutines[*c].handle] {
            if (!h.called())
              st->coroutines[idx].cancelled = true;
            h.cancel();
          });
        }
        break;
      default:
        if (sel == strand_spawn_selector)
        {
          // Spawn on the strand, with one consumer: the body, and its
          // children awaited at once, run on the strand.
          const unsigned which = byte(i);
          if (auto c = pick_index(which, true);
              c && s->coroutines[*c].handle && !s->coroutines[*c].handle.started())
          {
            (void)coflow::spawn(s->get_strand(), s->coroutines[*c].handle);
            s->spawned_on_strand = true;
            s->attach_consumer(*c);
          }
          break;
        }
        if (sel == destroy_selector)
        {
          // Destroy the context: the run ends here (rare: one step in
          // 12 * 256; the committed seeds made before it never use it).
          helper().wait_idle();
          return end_by_destroying_the_context(std::move(s), byte(i));
        }
        // Run every ready handler.
        s->io().restart();
        (void)s->io().poll();
        break;
      }
      break;
    }
    helper().wait_idle();
  }

  // Release everything: unpause, cancel, fire, run to the end.
  s->releasing = true;
  for (auto& c : s->coroutines)
    if (c.handle)
    {
      while (c.pauses > 0)
        c.handle.unpause(), --c.pauses;
      if (!c.handle.called())
        c.cancelled = true;
      c.handle.cancel();
    }
  for (auto& d : s->deferreds)
  {
    while (d.pauses > 0)
      d.d.unpause(), --d.pauses;
    if (!d.d.called())
    {
      d.d.callback(0);
      d.value = 0;
    }
  }
  // Run what is ready; complete (or drop) every kept handler, also those of
  // operations initiated meanwhile; again until nothing is left.
  for (bool progress = true; progress;)
  {
    s->io().restart();
    (void)s->io().poll();
    helper().wait_idle();
    progress = false;
    for (std::size_t k = 0; k < s->ops.size(); ++k)
      progress = s->resolve(*s->ops[k]) || progress;
  }
  s->io().restart();
  s->io().run();

  for (auto& consumer : s->consumers)
  {
    check(consumer->deliveries == 1, "every consumer got exactly one delivery");
    check(consumer->handlers == 0, "a consumer's handler is destroyed once it has been called");
    s->check_delivery(*consumer);
  }
  for (auto& r : s->ops)
    r->check_seen();

  s.reset(); // the context goes: unspawned and abandoned frames with it
  check(live_frames == 0, "every frame destroyed");
  check(cleanups == frames_made, "every cleanup ran once");
  check(live_params == 0, "every frame destroyed, also those whose body never ran");
}

} // namespace

// --- the structure-aware mutator ---------------------------------------------
//
// libFuzzer's own mutations change bytes. A race may need several fields to
// line up at once, in one step or in several (the stale pause target of
// 01b7803: the body's own pause, an unpause in the initiation, an inline
// completion and a second await), and a field changed alone may add no
// coverage to keep it for. This mutator works on the steps as run() decodes
// them: it inserts, replaces, deletes, duplicates and swaps whole steps
// (a new step has every field drawn at once), redraws one byte of a step,
// and leaves a share of the mutations to libFuzzer's byte mutations (with
// the dictionary). The crossover splices two inputs at step boundaries.
// COFLOW_FUZZ_BYTE_MUTATIONS=1 leaves every mutation to libFuzzer (to
// compare the two).

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

/// The bytes of the step at @p i, as run() decodes it (a byte past the
/// end reads as 0).
std::size_t step_length(const std::uint8_t* data, std::size_t size, std::size_t i)
{
  auto at = [&](std::size_t k) -> unsigned { return k < size ? data[k] : 0; };
  const unsigned op = at(i) % 12;
  const unsigned arg = at(i + 1);
  if (op != 11 || arg < 0x80)
    return 2;
  const unsigned sel = arg >> 2 & 0x1f;
  if ((arg & 3) == 0)
    return 4; // a fuzz operation: how, plan
  if ((arg & 3) == 3 && (sel == strand_spawn_selector || sel == destroy_selector))
    return 3;
  return 2;
}

using step_bytes = std::vector<std::uint8_t>;

std::vector<step_bytes> split_steps(const std::uint8_t* data, std::size_t size)
{
  std::vector<step_bytes> steps;
  for (std::size_t i = 0; i < size;)
  {
    const std::size_t n = std::min(step_length(data, size, i), size - i);
    steps.emplace_back(data + i, data + i + n);
    i += n;
  }
  return steps;
}

/// A step with every field drawn at once; a fuzz operation twice as likely
/// as another kind (most of the races start there), the context's
/// destruction rare (it ends the input).
step_bytes random_step(std::minstd_rand& rng)
{
  auto below = [&](unsigned n) { return static_cast<unsigned>(rng() % n); };
  auto any = [&] { return static_cast<std::uint8_t>(rng() >> 8); };
  auto op = [&](unsigned o) { return static_cast<std::uint8_t>(o + 12 * below(21)); };
  auto extended = [&](unsigned sel, unsigned kind) {
    return static_cast<std::uint8_t>(0x80 | sel << 2 | kind);
  };
  const unsigned kind = below(17);
  if (kind < 11)
    return {op(kind), any()};
  switch (kind)
  {
  case 11:
    return {op(11), static_cast<std::uint8_t>(any() & 0x7f)}; // run one handler
  case 12:
  case 13:
    return {op(11), extended(below(32), 0), any(), any()}; // a fuzz operation
  case 14:
    return {op(11), extended(below(32), 1)}; // resolve a fuzz operation
  case 15:
    return {op(11), extended(below(32), 2)}; // cancel from a handler
  default:
  {
    unsigned sel = below(32);
    if (sel == destroy_selector && below(4) != 0)
      sel = 0; // run every ready handler instead
    if (sel == strand_spawn_selector || sel == destroy_selector)
      return {op(11), extended(sel, 3), any()};
    return {op(11), extended(sel, 3)};
  }
  }
}

std::size_t store_steps(
    const std::vector<step_bytes>& steps, std::uint8_t* out, std::size_t max_size)
{
  std::size_t n = 0;
  for (const step_bytes& step : steps)
  {
    if (n + step.size() > max_size)
      break;
    std::copy(step.begin(), step.end(), out + n);
    n += step.size();
  }
  return n;
}

bool byte_mutations_only()
{
  static const bool only = [] {
    const char* e = std::getenv("COFLOW_FUZZ_BYTE_MUTATIONS");
    return e && *e == '1';
  }();
  return only;
}

} // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(
    std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned int seed)
{
  std::minstd_rand rng(seed);
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  if (byte_mutations_only() || below(6) == 0)
    return LLVMFuzzerMutate(data, size, max_size);
  std::vector<step_bytes> steps = split_steps(data, size);
  switch (steps.empty() ? 0 : below(6))
  {
  case 0: // insert a new step
  case 1:
    steps.insert(steps.begin() + static_cast<std::ptrdiff_t>(below(steps.size() + 1)),
        random_step(rng));
    break;
  case 2: // replace a step by a new one
    steps[below(steps.size())] = random_step(rng);
    break;
  case 3: // redraw one byte of a step (its kind, or one of its fields)
  {
    step_bytes& step = steps[below(steps.size())];
    step[below(step.size())] = static_cast<std::uint8_t>(rng() >> 8);
    break;
  }
  case 4: // delete a step
    steps.erase(steps.begin() + static_cast<std::ptrdiff_t>(below(steps.size())));
    break;
  default: // copy a step elsewhere, or swap two
  {
    const std::size_t a = below(steps.size());
    const std::size_t b = below(steps.size());
    if (rng() & 1)
      std::swap(steps[a], steps[b]);
    else
    {
      step_bytes copy = steps[a];
      steps.insert(steps.begin() + static_cast<std::ptrdiff_t>(b), std::move(copy));
    }
    break;
  }
  }
  const std::size_t n = store_steps(steps, data, max_size);
  return n > 0 ? n : LLVMFuzzerMutate(data, size, max_size);
}

extern "C" std::size_t LLVMFuzzerCustomCrossOver(const std::uint8_t* data1, std::size_t size1,
    const std::uint8_t* data2, std::size_t size2, std::uint8_t* out, std::size_t max_out_size,
    unsigned int seed)
{
  // The first steps of one input, then the last steps of the other.
  std::minstd_rand rng(seed);
  const std::vector<step_bytes> first = split_steps(data1, size1);
  const std::vector<step_bytes> second = split_steps(data2, size2);
  std::vector<step_bytes> steps(
      first.begin(), first.begin() + static_cast<std::ptrdiff_t>(rng() % (first.size() + 1)));
  steps.insert(steps.end(),
      second.begin() + static_cast<std::ptrdiff_t>(rng() % (second.size() + 1)), second.end());
  return store_steps(steps, out, max_out_size);
}

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
  // An errback nobody consumes is reported to this handler; the default one
  // writes a line per error, which would slow the run down for nothing.
  coflow::set_unhandled_error_handler([](std::exception_ptr) {});
  (void)helper(); // started once, before the first input
  if (const char* e = std::getenv("COFLOW_FUZZ_STATS"); e && *e == '1')
    std::atexit([] {
      std::fprintf(stderr,
          "control_api: contexts destroyed %lu, frames abandoned %lu, consumers abandoned %lu, "
          "consumers delivered before %lu, fuzz operations pending %lu, kept handlers dropped "
          "by the shutdown %lu\n",
          figures.contexts_destroyed.load(), figures.frames_abandoned.load(),
          figures.consumers_abandoned.load(), figures.consumers_delivered.load(),
          figures.ops_pending.load(), fuzz_op_service::dropped_at_shutdown.load());
    });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  run(data, size);
  return 0;
}
