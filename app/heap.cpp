#include "app/heap.hpp"

#include <jemalloc/jemalloc.h>
#include <sys/mman.h>

#include <array>
#include <atomic>
#include <string>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; Debian 12's headers may predate it
#endif

namespace herald::app {
namespace {

// jemalloc's own hooks, which ours call, and ours: the same but for `alloc`.
extent_hooks_t* jemalloc_hooks = nullptr;
extent_hooks_t populating_hooks;

// What each arena has mapped so far. An arena populates only past
// `populate_after`: most threads never need that much, and their first pieces
// (the arena's own metadata among them) then cost no memory they do not touch.
std::array<std::atomic<std::size_t>, 64> mapped{};
std::size_t populate_after = 0;

void* alloc_populated(extent_hooks_t*, void* new_addr, std::size_t size, std::size_t alignment, bool* zero,
                      bool* commit, unsigned arena) {
  void* p = jemalloc_hooks->alloc(jemalloc_hooks, new_addr, size, alignment, zero, commit, arena);
  if (p == nullptr || !*commit || arena >= mapped.size()) return p;
  // Best effort: on a kernel without MADV_POPULATE_WRITE, or short of memory,
  // the pages simply fault in later, as they would have anyway.
  if (mapped[arena].fetch_add(size, std::memory_order_relaxed) >= populate_after)
    ::madvise(p, size, MADV_POPULATE_WRITE);
  return p;
}

bool install(std::size_t step) {
  // The automatic arenas, among which threads are spread. (The arena for
  // single allocations of 8 MiB or more keeps jemalloc's hooks.)
  unsigned arenas = 0;
  std::size_t len = sizeof(arenas);
  if (mallctl("opt.narenas", &arenas, &len, nullptr, 0) != 0 || arenas == 0) return false;
  extent_hooks_t* found = nullptr;
  len = sizeof(found);
  if (mallctl("arena.0.extent_hooks", &found, &len, nullptr, 0) != 0 || found == nullptr) return false;
  jemalloc_hooks = found;
  populate_after = 2 * step;
  populating_hooks = *found;
  populating_hooks.alloc = alloc_populated;
  extent_hooks_t* ours = &populating_hooks;
  bool all = true;
  // Every automatic arena, so that whichever one a thread is given grows this
  // way. Setting the hooks of an arena not in use yet creates it.
  for (unsigned i = 0; i < arenas; ++i) {
    const std::string arena = "arena." + std::to_string(i);
    all = mallctl((arena + ".extent_hooks").c_str(), nullptr, nullptr, &ours, sizeof(ours)) == 0 && all;
    all = mallctl((arena + ".retain_grow_limit").c_str(), nullptr, nullptr, &step, sizeof(step)) == 0 && all;
  }
  return all;
}

}  // namespace

bool populate_heap_growth(std::size_t step) {
  static const bool installed = install(step);
  return installed;
}

}  // namespace herald::app
