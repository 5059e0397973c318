//
// coflow/detail/frame_block.hpp
//
// One allocation per coroutine: a block that holds the coroutine's identity
// (its task) in front of the compiler's frame. The two die apart: the frame
// is destroyed when the body ends (or is abandoned, or replaced by a tail
// call) while handles may still read the task's result; the block is freed
// when both are gone. Blocks are recycled through Asio's per-thread cache
// (recycling_allocator), as Asio's own awaitable frames are, so a loop of
// child calls does not reach malloc.
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

#include <boost/asio/recycling_allocator.hpp>

#include <cassert>
#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace coflow {
namespace detail {

class frame_block
{
public:
  /// Allocates a block for a frame of @p frame_size bytes behind a Task.
  template <class Task>
  static void* allocate_frame(std::size_t frame_size)
  {
    const std::size_t units = to_units(frame_offset<Task>() + frame_size);
    void* memory = allocator().allocate(units);
    auto* block = ::new (memory) frame_block(units);
    block->pending_next_ = std::exchange(pending(), block);
    return static_cast<char*>(memory) + frame_offset<Task>();
  }

  /// The frame at @p frame (from allocate_frame<Task>) is destroyed.
  template <class Task>
  static void deallocate_frame(void* frame) noexcept
  {
    auto* block = std::launder(reinterpret_cast<frame_block*>(
        static_cast<char*>(frame) - frame_offset<Task>()));
    if (block->alive_ & task_alive)
    {
      block->alive_ &= ~frame_alive; // the task frees the block
      return;
    }
    if (!(block->alive_ & claimed))
    {
      // The ramp failed before the promise existed (a parameter's copy
      // threw): the block is still the newest pending one.
      assert(pending() == block);
      pending() = block->pending_next_;
    }
    block->free();
  }

  /// Constructs the Task of the newest pending block (called by the
  /// promise's constructor) from @p args.
  template <class Task, class... Args>
  static Task* claim(Args&&... args)
  {
    static_assert(alignof(Task) <= alignof(std::max_align_t));
    static_assert(std::is_nothrow_constructible_v<Task, Args&&...>);
    frame_block* block = pending();
    assert(block && !(block->alive_ & claimed));
    pending() = block->pending_next_;
    block->alive_ |= claimed | task_alive;
    return ::new (static_cast<void*>(reinterpret_cast<char*>(block) + task_offset()))
        Task(std::forward<Args>(args)...);
  }

  /// The block of a task that claim() constructed (the task sits at a fixed
  /// offset in the block's own storage).
  static frame_block* of(void* task) noexcept
  {
    return std::launder(reinterpret_cast<frame_block*>(
        static_cast<char*>(task) - task_offset()));
  }

  /// The task living in this block has been destroyed.
  void task_destroyed() noexcept
  {
    if (alive_ & frame_alive)
      alive_ &= ~task_alive; // the frame frees the block
    else
      free();
  }

private:
  explicit frame_block(std::size_t units) noexcept : units_(units) {}

  static constexpr std::size_t to_units(std::size_t size) noexcept
  {
    return (size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
  }

  // Offsets of the task and of the frame, in whole max_align_t units.
  static constexpr std::size_t task_offset() noexcept
  {
    return to_units(sizeof(frame_block)) * sizeof(std::max_align_t);
  }

  template <class Task>
  static constexpr std::size_t frame_offset() noexcept
  {
    return task_offset() + to_units(sizeof(Task)) * sizeof(std::max_align_t);
  }

  static boost::asio::recycling_allocator<std::max_align_t> allocator() noexcept
  {
    return {};
  }

  static frame_block*& pending() noexcept
  {
    static thread_local frame_block* newest = nullptr;
    return newest;
  }

  void free() noexcept
  {
    const std::size_t units = units_;
    this->~frame_block();
    allocator().deallocate(reinterpret_cast<std::max_align_t*>(this), units);
  }

  enum : unsigned char { frame_alive = 1, task_alive = 2, claimed = 4 };

  std::size_t units_;
  frame_block* pending_next_ = nullptr;
  unsigned char alive_ = frame_alive;
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_FRAME_BLOCK_HPP
