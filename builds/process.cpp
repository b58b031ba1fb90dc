// posix_spawn (vfork-fast, no code between fork and exec) + pidfd + pipe on Asio.
#include "builds/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace herald::builds {
namespace {

namespace asio = boost::asio;

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

class posix_child final : public child_process, public std::enable_shared_from_this<posix_child> {
 public:
  posix_child(asio::io_context& io, output_handler out, exit_handler ex)
      : io_(io), pipe_(io), pidfd_(io), kill_timer_(io), on_output_(std::move(out)), on_exit_(std::move(ex)) {}

  ~posix_child() override {
    // The handlers hold shared_from_this, so reaching here means the child was reaped
    // or never started; make sure nothing of its group outlives us.
    if (pid_ > 0 && !reaped_) ::kill(-pid_, SIGKILL);
  }

  int start(const process_spec& spec) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return errno;

    std::vector<std::string> env_strings;
    env_strings.reserve(spec.env.size());
    for (const auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    ::posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    // Sockets and the database must not leak into builds, whatever their flags.
    ::posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!spec.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&fa, spec.cwd.c_str());
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    ::posix_spawnattr_setsigmask(&attr, &none);
    ::posix_spawnattr_setsigdefault(&attr, &all);
    ::posix_spawnattr_setpgroup(&attr, 0);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = 0;
    int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    ::posix_spawn_file_actions_destroy(&fa);
    ::posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      return rc;
    }
    pid_ = pid;
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    pipe_.assign(fds[0]);
    int pfd = pidfd_open(pid);
    if (pfd < 0) {
      int err = errno;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      reaped_ = true;
      return err;
    }
    pidfd_.assign(pfd);
    read_more();
    wait_exit();
    return 0;
  }

  void fail_later(int err) {
    asio::post(io_, [self = shared_from_this(), err] {
      process_exit ex;
      ex.spawn_error = err;
      self->finish(ex);
    });
  }

  void terminate(std::chrono::milliseconds grace) override {
    if (pid_ <= 0 || reaped_) return;
    ::kill(-pid_, SIGTERM);
    kill_timer_.expires_after(grace);
    kill_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->reaped_) return;
      ::kill(-self->pid_, SIGKILL);
    });
  }

  int pid() const override { return pid_; }

 private:
  void read_more() {
    pipe_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
      if (n > 0 && self->on_output_) self->on_output_(std::string_view(self->buf_.data(), n));
      if (ec) return;  // EOF or closed after exit
      self->read_more();
    });
  }

  void wait_exit() {
    pidfd_.async_wait(asio::posix::stream_descriptor::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      self->reap();
    });
  }

  void reap() {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) {  // spurious wake-up
      wait_exit();
      return;
    }
    reaped_ = true;
    process_exit ex;
    if (r == pid_) {
      if (WIFEXITED(status)) ex.exit_code = WEXITSTATUS(status);
      else if (WIFSIGNALED(status)) ex.signal = WTERMSIG(status);
    } else {
      ex.exit_code = -1;
    }
    // Whatever the step left running in its group goes with it.
    ::kill(-pid_, SIGKILL);
    kill_timer_.cancel();
    drain();
    finish(ex);
  }

  // Output written before exit is still in the pipe: take it without waiting
  // for EOF, which a lingering grandchild could hold off forever.
  void drain() {
    boost::system::error_code ec;
    pipe_.non_blocking(true, ec);
    for (;;) {
      std::size_t n = pipe_.read_some(asio::buffer(buf_), ec);
      if (n > 0 && on_output_) on_output_(std::string_view(buf_.data(), n));
      if (ec || n == 0) break;
    }
    pipe_.close(ec);
    pidfd_.close(ec);
  }

  void finish(const process_exit& ex) {
    if (auto h = std::exchange(on_exit_, nullptr)) h(ex);
    on_output_ = nullptr;
  }

  asio::io_context& io_;
  asio::posix::stream_descriptor pipe_;
  asio::posix::stream_descriptor pidfd_;
  asio::steady_timer kill_timer_;
  output_handler on_output_;
  exit_handler on_exit_;
  std::array<char, 16384> buf_{};
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace

std::shared_ptr<child_process> child_process::spawn(asio::io_context& io, const process_spec& spec,
                                                    output_handler on_output, exit_handler on_exit) {
  auto c = std::make_shared<posix_child>(io, std::move(on_output), std::move(on_exit));
  if (spec.argv.empty()) {
    c->fail_later(EINVAL);
  } else if (int err = c->start(spec); err != 0) {
    c->fail_later(err);
  }
  return c;
}

std::map<std::string, std::string> current_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace herald::builds
