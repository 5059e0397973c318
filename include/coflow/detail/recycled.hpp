//
// coflow/detail/recycled.hpp
//
// Frames and tasks come and go at every child call: their memory is
// recycled through Asio's per-thread cache (recycling_allocator), as Asio's
// own awaitable frames are, so a loop of child calls does not reach malloc.
//

#ifndef COFLOW_DETAIL_RECYCLED_HPP
#define COFLOW_DETAIL_RECYCLED_HPP

#include <boost/asio/recycling_allocator.hpp>

#include <cstddef>

namespace coflow {
namespace detail {

/// Mix-in: class-specific operator new / delete through the recycling
/// allocator. Blocks are counted in max_align_t units to keep the default
/// new alignment.
struct recycled
{
  static void* operator new(std::size_t size)
  {
    return boost::asio::recycling_allocator<std::max_align_t>().allocate(units(size));
  }

  static void operator delete(void* p, std::size_t size) noexcept
  {
    boost::asio::recycling_allocator<std::max_align_t>().deallocate(
        static_cast<std::max_align_t*>(p), units(size));
  }

private:
  static constexpr std::size_t units(std::size_t size) noexcept
  {
    return (size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
  }
};

} // namespace detail
} // namespace coflow

#endif // COFLOW_DETAIL_RECYCLED_HPP
