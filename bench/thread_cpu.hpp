// CPU time per thread of this process, for the end-to-end drivers.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace herald::bench {

// CPU time in seconds per thread name (threads of one name are summed), from
// /proc: the scheduler's own count in nanoseconds (schedstat), or where the
// kernel has none, utime + stime, in clock ticks of 10 ms. At 10 ms a run of
// 30,000 deliveries could not tell the writer's CPU to better than 0.3 µs.
inline std::map<std::string, double> thread_cpu_by_name() {
  std::map<std::string, double> out;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm"), schedstat(task.path() / "schedstat");
    std::string name;
    std::getline(comm, name);
    double on_cpu_ns = 0;
    if (schedstat >> on_cpu_ns) {
      out[name] += on_cpu_ns / 1e9;
      continue;
    }
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // Fields after the ")" that closes the name: state is the 3rd field, utime the 14th.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) {
        stime = std::stod(field);
        break;
      }
    }
    out[name] += (utime + stime) / tick;
  }
  return out;
}

}  // namespace herald::bench
