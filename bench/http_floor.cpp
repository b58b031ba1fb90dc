// The floor under herald's CPU per delivery: the least a client can spend per
// HTTP request on this machine. It does nothing but the syscalls a delivery
// needs (one send, one recv, a shared epoll_wait) over kept connections, with
// the same concurrency and request size as the outbox burst, against the same
// receiver (bench/e2e/outbox_burst.py --binary build/herald_http_floor).
// Same arguments as herald_outbox_burst; prints one JSON line. FLOOR_BODY sets
// the body's size; FLOOR_NAP_US=N naps N µs after each pass over the ready
// connections, as herald's loop does while it is busy (app/loop_runner.hpp).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct conn {
  int fd = -1;
  std::string in;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: herald_http_floor http://127.0.0.1:PORT EVENTS [REPORTERS] [DIR]\n");
    return 2;
  }
  const std::string url = argv[1];
  const long total = std::atol(argv[2]) * (argc > 3 ? std::atol(argv[3]) : 3);
  const long connections = 8 * (argc > 3 ? std::atol(argv[3]) : 3);  // the outbox's 8 per status reporter
  const auto colon = url.rfind(':');
  const int port = std::atoi(url.c_str() + colon + 1);
  const std::size_t body_bytes = std::getenv("FLOOR_BODY") ? std::strtoul(std::getenv("FLOOR_BODY"), nullptr, 10) : 1000;

  const std::string body(body_bytes, 'x');
  const std::string request = "POST /r0 HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nUser-Agent: herald\r\nAccept: */*\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;

  const int ep = epoll_create1(0);
  std::vector<conn> conns(static_cast<std::size_t>(connections));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  long sent = 0, done = 0, wakes = 0;
  const long nap_us = std::getenv("FLOOR_NAP_US") ? std::atol(std::getenv("FLOOR_NAP_US")) : 0;
  const auto send_one = [&](conn& c) {
    if (sent >= total) return;
    ++sent;
    if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
      std::perror("send");
      std::exit(1);
    }
  };
  for (std::size_t i = 0; i < conns.size(); ++i) {
    auto& c = conns[i];
    // Connected before the clock starts mattering; blocking, as the receiver's
    // listen backlog is short.
    c.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      std::perror("connect");
      return 1;
    }
    fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  for (auto& c : conns) send_one(c);
  std::vector<epoll_event> events(conns.size());
  char buf[65536];
  while (done < total) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 5000);
    if (n <= 0) break;
    ++wakes;
    for (int k = 0; k < n; ++k) {
      auto& c = conns[events[static_cast<std::size_t>(k)].data.u64];
      for (;;) {
        const ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
        if (got <= 0) break;
        c.in.append(buf, static_cast<std::size_t>(got));
      }
      // The receiver answers "204" with Content-Length: 0: a response ends at the blank line.
      for (auto end = c.in.find("\r\n\r\n"); end != std::string::npos; end = c.in.find("\r\n\r\n")) {
        c.in.erase(0, end + 4);
        ++done;
        send_one(c);
      }
    }
    if (nap_us > 0) usleep(static_cast<useconds_t>(nap_us));
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  std::printf("{\"deliveries\": %ld, \"cpu_us_per_delivery\": %.2f, \"deliveries_per_s\": %.0f, \"connections\": %ld, \"wakes\": %ld}\n",
              done, cpu * 1e6 / static_cast<double>(done ? done : 1), static_cast<double>(done) / wall, connections, wakes);
  return done == total ? 0 : 1;
}
