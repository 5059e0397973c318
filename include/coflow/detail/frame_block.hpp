//
// coflow/detail/frame_block.hpp
//
// Copyright (c) 2026 The coflow authors
// Distributed under the Boost Software License, Version 1.0. (See accompanying
// file LICENSE_1_0.txt or copy at http://www.boost.org/LICENSE_1_0.txt)
//
// One allocation per coroutine: a block that holds the coroutine's identity
// (its coroutine state) in front of the compiler's frame. The two die apart: the frame
// is destroyed when the body ends (or is abandoned, or replaced by a tail
// call) while handles may still read the coroutine state's result; the block is freed
// when both are gone. The count of the two is not atomic: a frame that
// outlives its body's delivery holds a reference to the coroutine state until it has
// done with the block, so the coroutine state never dies on another thread meanwhile.
// Blocks are recycled per thread, so a loop of child calls does not reach
// malloc.
//
// A loop of children frees and allocates a block at every iteration, and a
// call nested n deep allocates n blocks and then frees them: one freed block
// is kept per thread, and up to 64 KiB more behind it, so the common case is
// a pointer exchange, and calls nested (or recursions) up to about 200
// levels of small frames deep reach no allocator once they have run. DESIGN.md asks for frame memory recycled per thread. Asio's
// recycling_allocator does it for any handler, through a thread-call-stack
// lookup and a scan of its two slots; in front of it, it cost a child
// awaited at once about a tenth of its time. Behind the kept blocks, its two
// slots only delayed the malloc of a deeper recursion, by 60
// instructions a level (and its aligned_alloc is glibc's slower path):
// beyond them, a block comes from operator new, whose alignment is the
// block's.
//
// The promise finds its block without pointer arithmetic on the coroutine
// handle (which is undefined behaviour): operator new pushes the block on a
// thread-local list and the promise's constructor, which the coroutine's
// ramp runs right after the allocation (and after copying the parameters,
// which may create coroutines of their own: hence a list, not a slot),
// claims it.
//

#ifndef COFLOW_DETAIL_FRAME_BLOCK_HPP
#define COFLOW_DETAIL_FRAME_BLOCK_HPP

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace coflow {
namespace detail {

class frame_block
{
public:
  /// The block's unit: the fundamental alignment, and no more. (Not
  /// max_align_t itself: g++ makes it 32 bytes large, 16 aligned.)
  struct alignas(alignof(std::max_align_t)) unit
  {
    unsigned char bytes[alignof(std::max_align_t)];
  };

  /// Allocates a block for a frame of @p frame_size bytes behind a CoroState.
  template <class CoroState>
  static void* allocate_frame(std::size_t frame_size)
  {
    std::size_t units = to_units(frame_offset<CoroState>() + frame_size);
    void* memory;
    if (kept_->units_ >= units) // never a marker: their size is 0
    {
      units = kept_->units_;
      memory = std::exchange(kept_, &markers_[empty]);
    }
    else
      memory = allocate_slow(units);
    auto* block = ::new (memory) frame_block(units);
    block->pending_next_ = std::exchange(pending(), block);
    return static_cast<char*>(memory) + frame_offset<CoroState>();
  }

  /// The frame at @p frame (from allocate_frame<CoroState>) is destroyed.
  template <class CoroState>
  static void deallocate_frame(void* frame) noexcept
  {
    auto* block = std::launder(reinterpret_cast<frame_block*>(
        static_cast<char*>(frame) - frame_offset<CoroState>()));
    if (--block->alive_ != 0)
      return; // the coroutine state frees the block
    if (block->state_ != claimed) [[unlikely]]
    {
      if (block->state_ == frame_keeps_state)
        return block->release_kept_state<CoroState>();
      // The ramp failed before the promise existed (a parameter's copy
      // threw): the block is still the newest pending one.
      assert(pending() == block);
      pending() = block->pending_next_;
    }
    block->free();
  }

  /// The frame at @p frame holds a reference to @p coro (the coroutine state it is the
  /// body of, in this block or, after a tail call, in another), released once
  /// the frame has freed its part of the block. Until then no other thread
  /// can destroy the coroutine state, so the block's count is never touched by two
  /// threads at once.
  template <class CoroState>
  static void release_after_frame(void* frame, CoroState* coro) noexcept
  {
    auto* block = std::launder(
        reinterpret_cast<frame_block*>(static_cast<char*>(frame) - frame_offset<CoroState>()));
    // The frame's decrement then takes the rare path (count 0, state not
    // `claimed`), so the common one tests nothing more.
    block->kept_state_ = coro; // pending_next_ is not used once claimed
    block->count_after_frame_ = static_cast<unsigned char>(block->alive_ - 1);
    block->alive_ = 1;
    block->state_ = frame_keeps_state;
  }

  /// Constructs the CoroState of the newest pending block (called by the
  /// promise's constructor) from @p args.
  template <class CoroState, class... Args>
  static CoroState* claim(Args&&... args)
  {
    static_assert(alignof(CoroState) <= alignof(std::max_align_t));
    static_assert(std::is_nothrow_constructible_v<CoroState, Args&&...>);
    frame_block* block = pending();
    assert(block && block->state_ == unclaimed);
    pending() = block->pending_next_;
    block->state_ = claimed;
    block->alive_ = 2; // the frame and the coroutine state
    return ::new (static_cast<void*>(reinterpret_cast<char*>(block) + state_offset()))
        CoroState(std::forward<Args>(args)...);
  }

  /// The block of a coroutine state that claim() constructed (the coroutine state sits at a fixed
  /// offset in the block's own storage).
  static frame_block* of(void* state) noexcept
  {
    return std::launder(reinterpret_cast<frame_block*>(
        static_cast<char*>(state) - state_offset()));
  }

  /// The coroutine state living in this block has been destroyed. (Inlined: it ends
  /// every child awaited at once.)
  [[gnu::always_inline]] void state_destroyed() noexcept
  {
    if (--alive_ == 0)
      free(); // else the frame frees the block
  }

  /// Gives the blocks this thread keeps back to the allocator (a test that
  /// counts allocations calls it, so that what it counts does not depend on
  /// what earlier code left kept).
  static void trim() noexcept
  {
    if (kept_->units_ != 0) // a block, not a marker
      std::exchange(kept_, &markers_[empty])->release_memory();
    for (frame_block* b = std::exchange(spares_, &spares_bottom_); b->units_ != 0;)
      std::exchange(b, b->pending_next_)->release_memory();
  }

private:
  explicit constexpr frame_block(std::size_t units) noexcept
    : units_(static_cast<std::uint32_t>(units))
  {
  }

  /// The bottom of the spares: no units, and none stacked.
  struct bottom_tag
  {
  };
  explicit constexpr frame_block(bottom_tag) noexcept : units_(0), stacked_units_(0) {}

  static constexpr std::size_t to_units(std::size_t size) noexcept
  {
    return (size + sizeof(unit) - 1) / sizeof(unit);
  }

  // Offsets of the coroutine state and of the frame, in whole units.
  static constexpr std::size_t state_offset() noexcept
  {
    return to_units(sizeof(frame_block)) * sizeof(unit);
  }

  template <class CoroState>
  static constexpr std::size_t frame_offset() noexcept
  {
    return state_offset() + to_units(sizeof(CoroState)) * sizeof(unit);
  }


  static frame_block*& pending() noexcept
  {
    static thread_local frame_block* newest = nullptr;
    return newest;
  }

  // The block kept for reuse by this thread (blocks are trivially
  // destructible: keeping one is keeping its memory and its size), and
  // behind it a stack of spares of up to max_spare_units in all (linked
  // through pending_next_, down to spares_bottom_), for calls nested several
  // deep and recursions that come back (a tree walk): 64 KiB, about 200
  // levels of a small recursion. A bound in bytes, not in blocks, so that
  // large frames (a coroutine with a buffer inside) are not kept by the
  // hundred. The slot is a
  // plain pointer, so reaching it costs no guard: a loop of children, the
  // common case, only exchanges it. Besides a kept block it points to one
  // of three markers of size 0, which no request takes: not armed yet,
  // armed and empty, closed. The first block kept arms a cleaner that gives
  // the kept blocks back at thread exit and closes the slot, so a frame
  // freed later (a static io_context destroyed at exit) goes straight to the
  // allocator.
  static constexpr std::uint16_t max_spare_units = 65536 / sizeof(unit);
  enum { unarmed, empty, closed };
  static frame_block markers_[3];
  static frame_block spares_bottom_;
  static thread_local frame_block* kept_;
  static thread_local frame_block* spares_;

  struct spare_cleaner
  {
    ~spare_cleaner()
    {
      trim();
      kept_ = &markers_[closed];
    }
  };

  /// allocate_frame() when the kept block does not do: a spare, or the
  /// allocator.
  static void* allocate_slow(std::size_t& units)
  {
    if (frame_block* top = spares_; top->units_ >= units) // never the bottom: size 0
    {
      units = top->units_;
      spares_ = top->pending_next_;
      return top;
    }
    return ::operator new(units * sizeof(unit));
  }

  void free() noexcept
  {
    if (kept_ == &markers_[empty])
      kept_ = this;
    else
      free_slow();
  }

  void free_slow() noexcept
  {
    if (kept_ == &markers_[unarmed])
    {
      static thread_local spare_cleaner cleaner;
      (void)cleaner;
      kept_ = this;
      return;
    }
    if (kept_ != &markers_[closed]
        && units_ <= std::uint32_t{max_spare_units} - spares_->stacked_units_)
    {
      stacked_units_ = static_cast<std::uint16_t>(spares_->stacked_units_ + units_);
      pending_next_ = spares_;
      spares_ = this;
      return;
    }
    release_memory();
  }

  void release_memory() noexcept
  {
    ::operator delete(static_cast<void*>(this));
  }

  /// The frame is gone: the reference it kept (release_after_frame) goes,
  /// after the block is done with.
  /// (Out of line: it would make the common path save registers.)
  template <class CoroState>
  [[gnu::noinline]] void release_kept_state() noexcept
  {
    auto* coro = static_cast<CoroState*>(kept_state_);
    state_ = claimed;
    alive_ = count_after_frame_;
    if (alive_ == 0)
      free(); // the coroutine state lives in another block (a tail call's)
    coro->release();
  }

  union
  {
    frame_block* pending_next_ = nullptr; // until claimed
    void* kept_state_; // after: see release_after_frame (the block knows no coroutine state type)
  };
  /// The block's size in units. (32 bits, after the pointer:
  /// the header then fits one unit, and the coroutine state starts 16
  /// bytes into the block, not 32.)
  std::uint32_t units_;
  /// How many of the frame and the coroutine state live (the coroutine state once claimed).
  unsigned char alive_ = 1;
  enum : unsigned char { unclaimed, claimed, frame_keeps_state } state_ = unclaimed;
  union
  {
    /// With frame_keeps_state: alive_ is 1, and this is the true count once
    /// the frame is gone.
    unsigned char count_after_frame_ = 0;
    /// A spare (frame and coroutine state gone): the units of the spares
    /// from this one down to the bottom.
    std::uint16_t stacked_units_;
  };
};

static_assert(alignof(frame_block::unit) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__,
    "operator new aligns a block for its unit");
static_assert(sizeof(frame_block) <= sizeof(frame_block::unit),
    "the header takes one unit of the block");
static_assert(std::is_trivially_destructible_v<frame_block>,
    "a kept block is reused without running a destructor");

inline constinit frame_block frame_block::markers_[3] = {
    frame_block(0), frame_block(0), frame_block(0)};

inline constinit frame_block frame_block::spares_bottom_ = frame_block(frame_block::bottom_tag{});

inline constinit thread_local frame_block* frame_block::kept_ =
    &frame_block::markers_[frame_block::unarmed];

inline constinit thread_local frame_block* frame_block::spares_ = &frame_block::spares_bottom_;


} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_FRAME_BLOCK_HPP
