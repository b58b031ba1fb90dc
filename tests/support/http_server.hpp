// A tiny scriptable server for transfer tests, on 127.0.0.1 and one thread
// (poll): keep-alive HTTP/1.1 with Content-Length bodies, each request answered
// as the test's handler says (respond, maybe late; hang; garbage; close), or a
// line script for SMTP-like peers (a greeting, then one reply per line).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace herald::testing {

struct http_request {
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;

  // The first header of that name (case-insensitive).
  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (std::equal(n.begin(), n.end(), name.begin(), name.end(),
                     [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); }))
        return v;
    return std::nullopt;
  }
};

struct http_reply {
  enum class kind { respond, hang, garbage, close };
  kind what = kind::respond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds delay{0};  // respond this much later
  std::size_t sent_first = 0;           // with a delay: this many bytes of the reply go at once
  std::string interim;                  // raw interim responses ("HTTP/1.1 100 Continue\r\n\r\n") sent first
  std::string raw;                     // garbage: these bytes, then close

  static http_reply with(int status, std::string body = {}, std::vector<std::pair<std::string, std::string>> headers = {}) {
    http_reply r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }
  static http_reply hang() { return of(kind::hang); }
  static http_reply close() { return of(kind::close); }
  static http_reply garbage(std::string bytes) {
    http_reply r = of(kind::garbage);
    r.raw = std::move(bytes);
    return r;
  }

 private:
  static http_reply of(kind k) {
    http_reply r;
    r.what = k;
    return r;
  }
};

class test_server {
 public:
  using http_handler = std::function<http_reply(const http_request&)>;
  // Returns the reply (without the final CRLF), or "" for none.
  using line_handler = std::function<std::string(const std::string& line)>;

  explicit test_server(http_handler h) : http_(std::move(h)) { start(); }
  test_server(std::string greeting, line_handler h) : greeting_(std::move(greeting)), line_(std::move(h)) { start(); }

  ~test_server() {
    stop_ = true;
    const char c = 0;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
    thread_.join();
    for (auto& c2 : conns_) ::close(c2.fd);
    ::close(listen_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + std::string(path); }

  std::vector<http_request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::string received() const {  // line mode: every byte, all connections
    std::lock_guard lock(mutex_);
    return received_;
  }
  std::size_t request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(5)) const {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (request_count() < n) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }
  std::size_t accepted() const { return accepted_; }
  std::size_t max_open() const { return max_open_; }                // connections at once
  std::size_t max_outstanding() const { return max_outstanding_; }  // requests read, not yet answered

  std::atomic<bool> close_on_accept{false};

 private:
  using clock = std::chrono::steady_clock;
  struct conn {
    int fd = -1;
    std::string in, out;
    std::size_t out_off = 0;
    bool close_after_write = false;
    bool hung = false;
    bool outstanding = false;
    std::optional<clock::time_point> send_at;
    std::string pending;
  };

  void start() {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe");
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(listen_, 256) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("test server: cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  static const char* reason(int status) {
    switch (status) {
      case 200: return "OK";
      case 201: return "Created";
      case 204: return "No Content";
      case 400: return "Bad Request";
      case 401: return "Unauthorized";
      case 404: return "Not Found";
      case 429: return "Too Many Requests";
      case 500: return "Internal Server Error";
      case 503: return "Service Unavailable";
      default: return "Status";
    }
  }

  void answered(conn& c) {
    if (c.outstanding) --outstanding_;
    c.outstanding = false;
  }

  // False: close the connection now.
  bool process(conn& c) {
    if (line_) {
      for (auto eol = c.in.find("\r\n"); eol != std::string::npos; eol = c.in.find("\r\n")) {
        const std::string line = c.in.substr(0, eol);
        c.in.erase(0, eol + 2);
        const std::string reply = line_(line);
        if (!reply.empty()) c.out += reply + "\r\n";
      }
      return true;
    }
    while (!c.hung && !c.send_at && !c.close_after_write) {
      const auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return true;
      http_request r;
      std::string_view head(c.in.data(), end);
      auto take_line = [&head] {
        const auto eol = head.find("\r\n");
        std::string_view l = head.substr(0, eol);
        head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
        return l;
      };
      const auto first = take_line();
      const auto sp1 = first.find(' ');
      const auto sp2 = first.find(' ', sp1 + 1);
      r.method = std::string(first.substr(0, sp1));
      r.target = std::string(first.substr(sp1 + 1, sp2 - sp1 - 1));
      while (!head.empty()) {
        const auto l = take_line();
        const auto colon = l.find(':');
        if (colon == std::string_view::npos) continue;
        auto v = l.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        r.headers.emplace_back(std::string(l.substr(0, colon)), std::string(v));
      }
      const std::size_t length = r.header("Content-Length") ? std::stoul(*r.header("Content-Length")) : 0;
      if (c.in.size() < end + 4 + length) return true;
      r.body = c.in.substr(end + 4, length);
      c.in.erase(0, end + 4 + length);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(r);
      }
      c.outstanding = true;
      max_outstanding_ = std::max<std::size_t>(max_outstanding_, ++outstanding_);
      const http_reply reply = http_(r);
      switch (reply.what) {
        case http_reply::kind::hang: c.hung = true; break;
        case http_reply::kind::close: answered(c); return false;
        case http_reply::kind::garbage:
          answered(c);
          c.out += reply.raw;
          c.close_after_write = true;
          break;
        case http_reply::kind::respond: {
          std::string text = reply.interim + "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
          for (const auto& [n, v] : reply.headers) text += n + ": " + v + "\r\n";
          text += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n";
          text += reply.body;
          if (reply.delay.count() > 0) {
            const auto now_part = std::min(reply.sent_first, text.size());
            c.out.append(text, 0, now_part);
            c.pending = text.substr(now_part);
            c.send_at = clock::now() + reply.delay;
          } else {
            answered(c);
            c.out += text;
          }
          break;
        }
      }
    }
    return true;
  }

  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      int timeout = -1;
      const auto now = clock::now();
      for (auto& c : conns_) {
        const short ev = c.out_off < c.out.size() ? static_cast<short>(POLLIN | POLLOUT) : static_cast<short>(POLLIN);
        fds.push_back({c.fd, ev, 0});
        if (c.send_at) {
          const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*c.send_at - now).count();
          const int wait = static_cast<int>(std::max<long long>(ms, 0));
          timeout = timeout < 0 ? wait : std::min(timeout, wait);
        }
      }
      if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return;
      if (stop_) return;
      if (fds[0].revents & POLLIN) {
        for (int fd; (fd = ::accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          ++accepted_;
          if (close_on_accept) {
            ::close(fd);
            continue;
          }
          conn& c = conns_.emplace_back();
          c.fd = fd;
          if (line_) c.out = greeting_ + "\r\n";
          max_open_ = std::max(max_open_.load(), conns_.size());
        }
      }
      std::size_t i = 2;
      for (auto it = conns_.begin(); it != conns_.end(); ++i) {
        conn& c = *it;
        const short rev = i < fds.size() && fds[i].fd == c.fd ? fds[i].revents : 0;
        bool keep = true;
        if (rev & (POLLIN | POLLHUP | POLLERR)) {
          char buf[65536];
          const auto n = ::recv(c.fd, buf, sizeof buf, 0);
          if (n <= 0) {
            keep = n < 0 && (errno == EAGAIN || errno == EINTR);
          } else {
            if (line_) {
              std::lock_guard lock(mutex_);
              received_.append(buf, static_cast<std::size_t>(n));
            }
            if (!c.hung) c.in.append(buf, static_cast<std::size_t>(n));
          }
        }
        if (keep && c.send_at && *c.send_at <= clock::now()) {
          c.out += c.pending;
          c.pending.clear();
          c.send_at.reset();
          answered(c);
        }
        if (keep) keep = process(c);
        while (keep && c.out_off < c.out.size()) {
          const auto n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
          if (n < 0) {
            keep = errno == EAGAIN || errno == EINTR;
            break;
          }
          c.out_off += static_cast<std::size_t>(n);
        }
        if (keep && c.out_off == c.out.size()) {
          c.out.clear();
          c.out_off = 0;
          if (c.close_after_write) keep = false;
        }
        if (keep) {
          ++it;
        } else {
          answered(c);
          ::close(c.fd);
          it = conns_.erase(it);
        }
      }
    }
  }

  http_handler http_;
  std::string greeting_;
  line_handler line_;
  int listen_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::list<conn> conns_;  // server thread only
  std::size_t outstanding_ = 0;
  std::atomic<std::size_t> accepted_{0}, max_open_{0}, max_outstanding_{0};
  mutable std::mutex mutex_;
  std::vector<http_request> requests_;
  std::string received_;
  std::thread thread_;
};

// A port on 127.0.0.1 where nothing listens (bound once, then released).
inline std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace herald::testing
