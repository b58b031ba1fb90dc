#include "app/heap.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

namespace herald::app {
namespace {

// How many of the pages that [p, p + size) touches are in memory, and how many
// it touches (jemalloc offsets large blocks within their first page).
std::pair<std::size_t, std::size_t> resident_pages(void* p, std::size_t size) {
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(p) / page * page;
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + size + page - 1) / page * page;
  std::vector<unsigned char> in((end - begin) / page);
  if (mincore(reinterpret_cast<void*>(begin), end - begin, in.data()) != 0) return {0, in.size()};
  std::size_t n = 0;
  for (unsigned char c : in) n += c & 1u;
  return {n, in.size()};
}

TEST(Heap, GrowthPastTheFirstStepsIsPopulated) {
  ASSERT_TRUE(populate_heap_growth());
  EXPECT_TRUE(populate_heap_growth());  // once is enough; again changes nothing
  // On a new thread, 48 blocks of 1 MiB, none of them written: the heap grows
  // by 48 MiB. Page by page, a page comes into memory only when first written.
  // Populated, every page past each arena's first 4 MiB is in memory at once.
  // (Earlier tests may have left freed memory for the first blocks to reuse,
  // and that is in memory either way; the last blocks are new.)
  const std::size_t block = std::size_t{1} << 20;
  std::size_t resident = 0;
  std::size_t pages = 0;
  std::thread([&] {
    std::vector<void*> blocks;
    for (int i = 0; i < 48; ++i) blocks.push_back(std::malloc(block));
    for (std::size_t i = 40; i < blocks.size(); ++i) {
      const auto [in, of] = resident_pages(blocks[i], block);
      resident += in;
      pages += of;
    }
    for (void* b : blocks) std::free(b);
  }).join();
  EXPECT_EQ(resident, pages);
}

}  // namespace
}  // namespace herald::app
