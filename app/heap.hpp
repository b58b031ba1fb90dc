// How herald's heap grows: in steps whose pages are put in place at once,
// rather than one page fault at a time as each page is first written.
#pragma once

#include <cstddef>

namespace herald::app {

// Makes jemalloc (herald's allocator) populate each new piece of address space
// it maps for the heap (MADV_POPULATE_WRITE), and map at most `step` bytes at a
// time, so that a piece costs one system call and at most a fraction of a
// millisecond, and at most `step` of it lies populated but unused. Each arena
// (jemalloc's heap for a share of the threads) starts doing so once it has
// mapped 2 × `step`: a thread that allocates little costs no more memory.
//
// Why: a burst of deliveries grows the heap by tens of MB. Page by page, each
// first write is a page fault, 9.7 µs per 4 KiB on this project's VM against
// 0.55 µs populated (BENCHMARKS.md, issue 4). Memory that jemalloc later hands
// back to the kernel faults again when it is reused, as before.
//
// Call it early, before other threads start; later calls only repeat the
// first one's answer. Returns false when jemalloc refused any of it: the
// arenas it refused grow page by page, as before.
bool populate_heap_growth(std::size_t step = std::size_t{2} << 20);

}  // namespace herald::app
