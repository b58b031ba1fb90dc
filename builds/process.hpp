// A child process on the event loop: spawned in its own process group, output
// read from a pipe, exit seen through a pidfd. Nothing here blocks the loop.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace herald::builds {

struct process_spec {
  std::vector<std::string> argv;            // argv[0] is looked up in PATH
  std::map<std::string, std::string> env;   // the child's whole environment
  std::filesystem::path cwd;
};

struct process_exit {
  int spawn_error = 0;             // errno when the process could not start
  std::optional<int> exit_code;    // set when it exited
  std::optional<int> signal;       // set when a signal ended it
};

class child_process {
 public:
  using output_handler = std::function<void(std::string_view)>;
  using exit_handler = std::function<void(const process_exit&)>;

  // Starts the process; stdout and stderr are merged, stdin is /dev/null.
  // `on_exit` is always called exactly once, also when spawning fails (posted).
  static std::shared_ptr<child_process> spawn(boost::asio::io_context& io, const process_spec& spec,
                                              output_handler on_output, exit_handler on_exit);

  virtual ~child_process() = default;
  // SIGTERM to the whole process group, then SIGKILL after `grace`.
  virtual void terminate(std::chrono::milliseconds grace) = 0;
  virtual int pid() const = 0;
};

// The environment of this process as a map (the base for children).
std::map<std::string, std::string> current_environment();

}  // namespace herald::builds
