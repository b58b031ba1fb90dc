#include "notifiers/transfer.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_server.hpp"

extern char** environ;

namespace herald::notifiers {
namespace {

using namespace std::chrono_literals;
using testing::http_reply;
using testing::http_request;
using testing::test_server;
using clock_type = std::chrono::steady_clock;

transfer_request post(std::string url, std::string body = "{}") {
  transfer_request r;
  r.url = std::move(url);
  r.body = std::move(body);
  r.timeout = 5s;
  return r;
}

// Submits and waits for the one callback.
transfer_result run(transfer& t, transfer_request r) {
  auto p = std::make_shared<std::promise<transfer_result>>();
  auto f = p->get_future();
  t.submit(std::move(r), [p](transfer_result res) { p->set_value(std::move(res)); });
  if (f.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "no callback";
    return {};
  }
  return f.get();
}

transfer_result run(transfer_request r) {
  transfer t(4);
  return run(t, std::move(r));
}

TEST(Transfer, PostBodyAndHeadersArriveExactly) {
  test_server server([](const http_request&) { return http_reply::with(200, "ok"); });
  const std::string body("{\"text\":\"caf\xc3\xa9\"}\n\0tail", 21);
  auto r = post(server.url("/hook?x=1"), body);
  r.headers = {{"Content-Type", "application/json"}, {"X-Herald-Event", "finished"}, {"X-Empty", ""}};
  const auto res = run(r);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.body, "ok");

  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/hook?x=1");
  EXPECT_EQ(reqs[0].body, body);
  EXPECT_EQ(reqs[0].header("content-type"), "application/json");
  EXPECT_EQ(reqs[0].header("x-herald-event"), "finished");
  EXPECT_EQ(reqs[0].header("x-empty"), "");
  EXPECT_EQ(reqs[0].header("content-length"), std::to_string(body.size()));
  EXPECT_EQ(reqs[0].header("expect"), std::nullopt);
  EXPECT_EQ(reqs[0].header("authorization"), std::nullopt);
}

TEST(Transfer, BodyLargerThanTheSendBufferArrivesWhole) {
  // Far more than a socket takes at once: the first write is partial, and the
  // rest is written as the peer reads.
  test_server server([](const http_request&) { return http_reply::with(200, "ok"); });
  std::string body(24 << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  auto r = post(server.url("/big"), body);
  r.timeout = 30s;
  const auto res = run(r);
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.status, 200);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].body == body) << reqs[0].body.size() << " bytes arrived";
}

TEST(Transfer, MethodsPutGetDelete) {
  test_server server([](const http_request&) { return http_reply::with(204); });
  auto put = post(server.url("/a"), "data");
  put.method = "PUT";
  EXPECT_EQ(run(put).status, 204);
  auto get = post(server.url("/b"), "");
  get.method = "GET";
  EXPECT_EQ(run(get).status, 204);
  auto del = post(server.url("/c"), "");
  del.method = "DELETE";
  EXPECT_EQ(run(del).status, 204);
  auto empty_post = post(server.url("/d"), "");
  EXPECT_EQ(run(empty_post).status, 204);

  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[0].body, "data");
  EXPECT_EQ(reqs[1].method, "GET");
  EXPECT_EQ(reqs[1].header("content-length"), std::nullopt);
  EXPECT_EQ(reqs[2].method, "DELETE");
  EXPECT_EQ(reqs[2].target, "/c");
  EXPECT_EQ(reqs[3].method, "POST");
  EXPECT_EQ(reqs[3].header("content-length"), "0");
}

TEST(Transfer, ResponseHeadersLowerCasedRetryAfterVisible) {
  test_server server([](const http_request&) {
    return http_reply::with(429, "slow down", {{"Retry-After", "120"}, {"X-Mixed-Case", " Value "}, {"X-Twice", "a"}, {"x-twice", "b"}});
  });
  const auto res = run(post(server.url()));
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.body, "slow down");
  EXPECT_EQ(res.headers.at("retry-after"), "120");
  EXPECT_EQ(res.headers.at("x-mixed-case"), "Value");
  EXPECT_EQ(res.headers.at("x-twice"), "b");  // the last one
  EXPECT_EQ(res.headers.at("content-length"), "9");
  EXPECT_EQ(res.headers.count("Retry-After"), 0u);
}

TEST(Transfer, ServerErrorReportedWithBody) {
  test_server server([](const http_request&) { return http_reply::with(500, "boom"); });
  const auto res = run(post(server.url()));
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.error, "");  // a status is not a transport failure
  EXPECT_EQ(res.body, "boom");
}

TEST(Transfer, BasicAuthHeader) {
  test_server server([](const http_request&) { return http_reply::with(200); });
  auto r = post(server.url());
  r.username = "user";
  r.password = "pass";
  EXPECT_EQ(run(r).status, 200);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].header("authorization"), "Basic dXNlcjpwYXNz");
}

TEST(Transfer, HangTimesOutWithoutBlockingSubmit) {
  test_server server([](const http_request&) { return http_reply::hang(); });
  transfer t;
  auto r = post(server.url());
  r.timeout = 300ms;
  auto p = std::make_shared<std::promise<transfer_result>>();
  auto f = p->get_future();
  const auto start = clock_type::now();
  t.submit(r, [p](transfer_result res) { p->set_value(std::move(res)); });
  EXPECT_LT(clock_type::now() - start, 50ms);
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const auto elapsed = clock_type::now() - start;
  const auto res = f.get();
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_EQ(res.status, 0);
  EXPECT_NE(res.error.find("Timeout"), std::string::npos) << res.error;
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(Transfer, RefusedPortIsAnError) {
  const auto res = run(post("http://127.0.0.1:" + std::to_string(testing::closed_port()) + "/"));
  EXPECT_EQ(res.status, 0);
  EXPECT_NE(res.error.find("connect"), std::string::npos) << res.error;
}

TEST(Transfer, GarbageOrClosedConnectionIsAnError) {
  test_server garbage([](const http_request&) { return http_reply::garbage("SSH-2.0-OpenSSH_9.2\r\n\x01\x02\x03"); });
  const auto a = run(post(garbage.url()));
  EXPECT_EQ(a.status, 0);
  EXPECT_FALSE(a.error.empty());

  for (const char* reply : {"HTTP/1.1 abc\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "HTTP/1.1 2000 OK\r\n\r\n"}) {
    test_server weird([reply](const http_request&) { return http_reply::garbage(reply); });
    const auto b = run(post(weird.url()));
    EXPECT_FALSE(b.error.empty()) << reply;
  }
  test_server weird([](const http_request&) { return http_reply::garbage("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"); });
  const auto w = run(post(weird.url()));
  EXPECT_NE(w.error.find("Weird server reply"), std::string::npos) << w.error;

  test_server closes([](const http_request&) { return http_reply::close(); });
  const auto c = run(post(closes.url()));
  EXPECT_EQ(c.status, 0);
  EXPECT_NE(c.error.find("Empty reply"), std::string::npos) << c.error;

  test_server refuses([](const http_request&) { return http_reply::with(200); });
  refuses.close_on_accept = true;
  const auto d = run(post(refuses.url()));
  EXPECT_EQ(d.status, 0);
  EXPECT_FALSE(d.error.empty());
}

TEST(Transfer, OversizeBodyAbortsQuickly) {
  test_server server([](const http_request&) { return http_reply::with(200, std::string(10 * 1024 * 1024, 'x')); });
  const auto start = clock_type::now();
  const auto res = run(post(server.url()));
  EXPECT_LT(clock_type::now() - start, 1s);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.error, "response larger than 65536 bytes");
  EXPECT_EQ(res.body, std::string(64 * 1024, 'x'));
}

TEST(Transfer, BodyAtTheCapIsKept) {
  test_server server([](const http_request& q) { return http_reply::with(200, std::string(std::stoul(q.body), 'y')); });
  auto r = post(server.url(), "100");
  r.max_response_bytes = 100;
  auto res = run(r);
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.body.size(), 100u);
  r.body = "101";
  res = run(r);
  EXPECT_EQ(res.error, "response larger than 100 bytes");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body.size(), 100u);
}

// Two requests in turn get the whole answer, over one kept connection.
void two_answers_on_one_connection(const test_server& server, int status, const std::string& body, std::size_t label) {
  transfer t(1);
  for (int i = 0; i < 2; ++i) {
    const auto res = run(t, post(server.url()));
    EXPECT_EQ(res.error, "") << label;
    EXPECT_EQ(res.status, status) << label;
    EXPECT_EQ(res.body, body) << label;
  }
  EXPECT_EQ(server.accepted(), 1u) << label;
}

TEST(Transfer, AnAnswerInPiecesIsReadWhole) {
  // The first piece ends inside the status line (5 bytes), inside the headers
  // (30), right after them (77) or inside the body (85); the rest comes 50 ms
  // later.
  const std::string body = "{\"state\": \"accepted\"}";
  for (std::size_t first : {5u, 30u, 77u, 85u}) {
    test_server server([&](const http_request&) {
      auto r = http_reply::with(201, body, {{"X-Padding", std::string(20, 'p')}});
      r.delay = 50ms;
      r.sent_first = first;
      return r;
    });
    two_answers_on_one_connection(server, 201, body, first);
  }
}

TEST(Transfer, InterimAnswersAreSkipped) {
  // 1xx answers before the real one: in the same piece, or the real one later.
  for (std::size_t first : {0u, 25u}) {
    test_server server([&](const http_request&) {
      auto r = http_reply::with(200, "done");
      r.interim = "HTTP/1.1 100 Continue\r\n\r\n";
      if (first) {
        r.delay = 50ms;
        r.sent_first = first;
      }
      return r;
    });
    two_answers_on_one_connection(server, 200, "done", first);
  }
}

TEST(Transfer, HundredConcurrentSubmitsCompleteExactlyOnce) {
  test_server server([](const http_request& q) {
    auto r = http_reply::with(200, q.body);
    r.delay = 5ms;
    return r;
  });
  constexpr int n = 100;
  std::mutex m;
  std::condition_variable cv;
  std::vector<int> calls(n, 0);
  std::vector<std::string> bodies(n);
  int total = 0;
  {
    transfer t(8);
    std::vector<std::thread> submitters;
    for (int s = 0; s < 4; ++s)
      submitters.emplace_back([&, s] {
        for (int i = s; i < n; i += 4)
          t.submit(post(server.url(), std::to_string(i)), [&, i](transfer_result res) {
            std::lock_guard lock(m);
            ++calls[static_cast<std::size_t>(i)];
            bodies[static_cast<std::size_t>(i)] = res.error.empty() ? res.body : res.error;
            ++total;
            cv.notify_all();
          });
      });
    for (auto& s : submitters) s.join();
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return total == n; })) << total;
    lock.unlock();
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(total, n);
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(calls[static_cast<std::size_t>(i)], 1) << i;
    EXPECT_EQ(bodies[static_cast<std::size_t>(i)], std::to_string(i));
  }
  EXPECT_LE(server.max_outstanding(), 8u);
  EXPECT_GE(server.max_outstanding(), 2u);
  EXPECT_LE(server.max_open(), 8u);  // connections are reused, never more than the limit
}

TEST(Transfer, DestructorAbandonsTransfersInFlight) {
  test_server server([](const http_request&) { return http_reply::hang(); });
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto t = std::make_unique<transfer>(4);
  for (int i = 0; i < 6; ++i) {
    auto r = post(server.url());
    r.timeout = 10s;
    t->submit(r, [calls](transfer_result) { ++*calls; });
  }
  ASSERT_TRUE(server.wait_for_requests(4));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(server.request_count(), 4u);  // two wait in the queue
  const auto start = clock_type::now();
  t.reset();
  EXPECT_LT(clock_type::now() - start, 500ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(*calls, 0);
}

TEST(Transfer, CallbackMaySubmitAgain) {
  test_server server([](const http_request&) { return http_reply::with(200, "again"); });
  transfer t(1);
  auto p = std::make_shared<std::promise<transfer_result>>();
  auto f = p->get_future();
  t.submit(post(server.url()), [&t, p, url = server.url()](transfer_result) {
    t.submit(post(url), [p](transfer_result res) { p->set_value(std::move(res)); });
  });
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().body, "again");
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(Transfer, KeptConnectionClosedByThePeerIsRetriedOnANewOne) {
  // A valid keep-alive answer, after which the server hangs up: the next request
  // meets a dead connection, and goes once more on a new one.
  test_server server([](const http_request&) { return http_reply::garbage("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); });
  transfer t(1);
  for (int i = 0; i < 3; ++i) {
    const auto res = run(t, post(server.url()));
    EXPECT_EQ(res.error, "") << i;
    EXPECT_EQ(res.body, "ok") << i;
    std::this_thread::sleep_for(20ms);  // the server's close arrives before the next request
  }
  EXPECT_EQ(server.request_count(), 3u);  // each delivered once
  EXPECT_EQ(server.accepted(), 3u);
}

TEST(Transfer, OnTheLoopHttpCallbacksRunOnTheLoopThread) {
  test_server server([](const http_request&) { return http_reply::with(200, "ok"); });
  boost::asio::io_context io(1);
  transfer t(io, 4);
  int calls = 0;
  std::thread::id where;
  std::string body;
  boost::asio::post(io, [&] {
    for (int i = 0; i < 3; ++i)
      t.submit(post(server.url()), [&](transfer_result res) {
        ++calls;
        where = std::this_thread::get_id();
        body = res.body;
      });
    EXPECT_EQ(calls, 0);  // never inside submit
  });
  for (int i = 0; i < 500 && calls < 3; ++i) {
    io.restart();
    io.run_for(10ms);
  }
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(where, std::this_thread::get_id());
  EXPECT_EQ(body, "ok");
  EXPECT_EQ(server.accepted(), 3u);
  // Kept for the next request: one connection, not three.
  io.restart();
  boost::asio::post(io, [&] { t.submit(post(server.url()), [&](transfer_result) { ++calls; }); });
  for (int i = 0; i < 500 && calls < 4; ++i) {
    io.restart();
    io.run_for(10ms);
  }
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(server.accepted(), 3u);
}

TEST(Transfer, OnTheLoopCountsRequestsWaitingForAnAnswer) {
  test_server server([](const http_request&) { return http_reply::hang(); });
  boost::asio::io_context io(1);
  transfer t(io, 2);
  int calls = 0;
  boost::asio::post(io, [&] {
    for (int i = 0; i < 3; ++i) {
      auto r = post(server.url());
      r.timeout = 300ms;
      t.submit(std::move(r), [&](transfer_result) { ++calls; });
    }
  });
  for (int i = 0; i < 500 && server.request_count() < 2; ++i) {
    io.restart();
    io.run_for(2ms);
  }
  EXPECT_EQ(t.http_in_flight(), 2u);  // the third waits for a free slot and is not counted
  for (int i = 0; i < 1000 && calls < 3; ++i) {
    io.restart();
    io.run_for(10ms);
  }
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(t.http_in_flight(), 0u);
  transfer own_thread(2);
  EXPECT_EQ(own_thread.http_in_flight(), 0u);  // not on a loop of the caller's
}

TEST(Transfer, ProxyFromTheEnvironmentIsUsed) {
  // curl's own rule: with http_proxy set, an http:// request goes through it, in
  // absolute form.
  test_server proxy([](const http_request&) { return http_reply::with(200, "via proxy"); });
  ::setenv("http_proxy", proxy.url().c_str(), 1);
  transfer_result res;
  {
    transfer t(2);
    res = run(t, post("http://herald-test.invalid/hook"));
  }
  // On a loop, curl's callbacks come back on the loop's thread too.
  std::thread::id where;
  {
    boost::asio::io_context io(1);
    transfer t(io, 2);
    EXPECT_TRUE(t.calls_back_on_loop());
    bool called = false;
    t.submit(post("http://herald-test.invalid/second"), [&](transfer_result r) {
      called = true;
      where = std::this_thread::get_id();
      EXPECT_EQ(r.body, "via proxy");
    });
    auto guard = boost::asio::make_work_guard(io);
    for (int i = 0; i < 500 && !called; ++i) io.run_for(10ms);
    EXPECT_TRUE(called);
  }
  ::unsetenv("http_proxy");
  EXPECT_EQ(where, std::this_thread::get_id());
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.body, "via proxy");
  ASSERT_EQ(proxy.request_count(), 2u);
  EXPECT_EQ(proxy.requests()[0].target, "http://herald-test.invalid/hook");
  EXPECT_EQ(proxy.requests()[1].target, "http://herald-test.invalid/second");
}

TEST(Transfer, GivenHeadersReplaceDefaultsButNeverTheFraming) {
  test_server server([](const http_request&) { return http_reply::with(200); });
  auto r = post(server.url(), "12345");
  r.headers = {{"Host", "ci.example.org"}, {"User-Agent", "custom"}, {"Content-Length", "1"},
               {"Transfer-Encoding", "chunked"}, {"Content-Type", "application/json"}};
  EXPECT_EQ(run(r).error, "");
  ASSERT_EQ(server.request_count(), 1u);
  const auto q = server.requests()[0];
  const auto count = [&](std::string_view name) {
    return std::count_if(q.headers.begin(), q.headers.end(), [&](const auto& h) {
      return std::equal(h.first.begin(), h.first.end(), name.begin(), name.end(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    });
  };
  EXPECT_EQ(count("Host"), 1);
  EXPECT_EQ(q.header("Host"), "ci.example.org");
  EXPECT_EQ(count("User-Agent"), 1);
  EXPECT_EQ(q.header("User-Agent"), "custom");
  EXPECT_EQ(count("Content-Length"), 1);
  EXPECT_EQ(q.header("Content-Length"), "5");
  EXPECT_EQ(count("Transfer-Encoding"), 0);
  EXPECT_EQ(count("Content-Type"), 1);
  EXPECT_EQ(q.body, "12345");
}

TEST(Transfer, OnlyHttpAndSmtpSchemes) {
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1/", "dict://127.0.0.1/"}) {
    const auto res = run(post(url));
    EXPECT_EQ(res.status, 0) << url;
    EXPECT_NE(res.error.find("not supported"), std::string::npos) << url << ": " << res.error;
    EXPECT_EQ(res.body, "") << url;
  }
}

TEST(Transfer, HeaderAndMethodInjectionRefused) {
  test_server server([](const http_request&) { return http_reply::with(200); });
  auto r = post(server.url());
  r.headers = {{"X-A", "1\r\nX-Injected: yes"}};
  EXPECT_EQ(run(r).error, "invalid HTTP header");
  r.headers = {{"X A", "1"}};
  EXPECT_EQ(run(r).error, "invalid HTTP header");
  r.headers.clear();
  r.method = "POST / HTTP/1.1\r\nX-Injected: yes\r\n\r\nGET";
  EXPECT_EQ(run(r).error, "invalid HTTP method");
  EXPECT_EQ(server.request_count(), 0u);
}

TEST(Transfer, ErrorsCarryNoCredentials) {
  const std::string port = std::to_string(testing::closed_port());
  auto r = post("http://hookuser:s3cr3t-token@127.0.0.1:" + port + "/hook/s3cr3t-path");
  r.username = "user";
  r.password = "hunter2-password";
  const auto res = run(r);
  EXPECT_FALSE(res.error.empty());
  EXPECT_EQ(res.error.find("s3cr3t"), std::string::npos) << res.error;
  EXPECT_EQ(res.error.find("hunter2"), std::string::npos) << res.error;
  EXPECT_EQ(res.error.find("hookuser"), std::string::npos) << res.error;
}

// --- SMTP -------------------------------------------------------------------

transfer_request mail(std::string url, core::smtp_security security = core::smtp_security::none) {
  transfer_request r;
  r.url = std::move(url);
  r.security = security;
  r.mail_from = "herald <ci@example.org>";
  r.mail_to = {"dev@example.org", "Ops <ops@example.org>"};
  r.body =
      "From: herald <ci@example.org>\r\nTo: dev@example.org\r\nSubject: build 7 failed\r\n\r\n"
      "line one\r\n.hidden dot line\r\n.\r\nlast\r\n";
  r.timeout = 5s;
  return r;
}

// A scripted SMTP peer: EHLO (offering AUTH PLAIN when `auth_reply` is set;
// the login is answered with it), then MAIL answered with `mail_reply`.
test_server smtp_script(std::string mail_reply, std::string auth_reply = {}) {
  return test_server("220 test ESMTP", [mail_reply, auth_reply, data = false,
                                        authing = false](const std::string& line) mutable -> std::string {
    if (data) {
      if (line == ".") {
        data = false;
        return "250 2.0.0 queued";
      }
      return "";
    }
    if (authing) {  // the credentials, base64
      authing = false;
      return auth_reply;
    }
    if (line.starts_with("EHLO") || line.starts_with("HELO"))
      return auth_reply.empty() ? "250 test" : "250-test\r\n250 AUTH PLAIN";
    if (!auth_reply.empty() && line == "AUTH PLAIN") {
      authing = true;
      return "334 ";
    }
    if (line.starts_with("MAIL FROM")) return mail_reply;
    if (line.starts_with("RCPT TO")) return "250 ok";
    if (line == "DATA") {
      data = true;
      return "354 go ahead";
    }
    if (line == "QUIT") return "221 bye";
    return "500 what";
  });
}

TEST(Transfer, SmtpScriptedDeliveryAndRejection) {
  {
    auto server = smtp_script("250 ok");
    const auto res = run(mail("smtp://127.0.0.1:" + std::to_string(server.port())));
    EXPECT_EQ(res.error, "");
    EXPECT_EQ(res.status, 250);
    const auto got = server.received();
    EXPECT_NE(got.find("MAIL FROM:<ci@example.org>"), std::string::npos) << got;
    EXPECT_NE(got.find("RCPT TO:<ops@example.org>"), std::string::npos) << got;
    EXPECT_NE(got.find("\r\n..hidden dot line\r\n..\r\nlast\r\n.\r\n"), std::string::npos) << got;  // dot-stuffed
  }
  {
    auto server = smtp_script("550 5.7.1 sender rejected");
    const auto res = run(mail("smtp://127.0.0.1:" + std::to_string(server.port())));
    EXPECT_EQ(res.status, 550);
    EXPECT_NE(res.error.find("550"), std::string::npos) << res.error;
    EXPECT_NE(res.error.find("sender rejected"), std::string::npos) << res.error;
    EXPECT_EQ(server.received().find("DATA"), std::string::npos);
  }
}

TEST(Transfer, SmtpLoginIsUsedOrNothingIsSent) {
  auto with_login = [](std::uint16_t port) {
    auto r = mail("smtp://127.0.0.1:" + std::to_string(port));
    r.username = "ci";
    r.password = "s3cret-pw";
    return r;
  };
  {  // offered and accepted: sent
    auto server = smtp_script("250 ok", "235 2.7.0 Authentication successful");
    const auto res = run(with_login(server.port()));
    EXPECT_EQ(res.error, "");
    EXPECT_FALSE(res.permanent);
    const auto got = server.received();
    EXPECT_NE(got.find("AUTH PLAIN"), std::string::npos) << got;
    EXPECT_NE(got.find("\r\n.\r\n"), std::string::npos) << got;
  }
  {  // not offered: libcurl would send without it; herald stops before MAIL
    auto server = smtp_script("250 ok");
    const auto res = run(with_login(server.port()));
    EXPECT_TRUE(res.permanent);
    EXPECT_NE(res.error.find("does not offer AUTH"), std::string::npos) << res.error;
    EXPECT_EQ(res.error.find("s3cret-pw"), std::string::npos);
    const auto got = server.received();
    EXPECT_NE(got.find("EHLO"), std::string::npos) << got;
    EXPECT_EQ(got.find("MAIL FROM"), std::string::npos) << got;
  }
  {  // refused: an error, and nothing sent either
    auto server = smtp_script("250 ok", "535 5.7.8 bad credentials");
    const auto res = run(with_login(server.port()));
    EXPECT_FALSE(res.error.empty());
    EXPECT_EQ(server.received().find("MAIL FROM"), std::string::npos);
  }
  {  // no login configured: no AUTH needed
    auto server = smtp_script("250 ok");
    const auto res = run(mail("smtp://127.0.0.1:" + std::to_string(server.port())));
    EXPECT_EQ(res.error, "");
  }
}

TEST(Transfer, SmtpSecurityIsEnforced) {
  {  // tls on an smtp:// URL: implicit TLS from the first byte (a TLS handshake record)
    auto server = smtp_script("250 ok");
    const auto res = run(mail("smtp://127.0.0.1:" + std::to_string(server.port()), core::smtp_security::tls));
    EXPECT_FALSE(res.error.empty());
    const auto got = server.received();
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got[0], '\x16');
    EXPECT_EQ(got.find("MAIL FROM"), std::string::npos);
  }
  {  // starttls with a server that offers none: no mail in clear text
    auto server = smtp_script("250 ok");
    const auto res = run(mail("smtp://127.0.0.1:" + std::to_string(server.port()), core::smtp_security::starttls));
    EXPECT_FALSE(res.error.empty());
    const auto got = server.received();
    EXPECT_NE(got.find("EHLO"), std::string::npos);
    EXPECT_EQ(got.find("MAIL FROM"), std::string::npos) << got;
  }
  {
    auto r = mail("smtp://127.0.0.1:25");
    r.mail_to = {"a@example.org\r\nRCPT TO:<b@example.org>"};
    EXPECT_EQ(run(r).error, "invalid mail recipient");
    r.mail_to.clear();
    EXPECT_EQ(run(r).error, "no mail recipients");
  }
}

struct child {
  pid_t pid = -1;
  ~child() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

bool can_connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

TEST(Transfer, SmtpDeliversToAiosmtpdMaildir) {
  char tmpl[] = "/tmp/herald-transfer-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  const std::filesystem::path maildir = dir / "Maildir";
  const auto port = testing::closed_port();
  const std::string listen = "127.0.0.1:" + std::to_string(port);
  const std::string box = maildir.string();
  std::vector<const char*> argv{"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", listen.c_str(),
                                "-c", "aiosmtpd.handlers.Mailbox", box.c_str(), nullptr};
  child server;
  ASSERT_EQ(::posix_spawn(&server.pid, argv[0], nullptr, nullptr, const_cast<char* const*>(argv.data()), environ), 0);
  const auto until = clock_type::now() + 10s;
  while (!can_connect(port)) {
    int status = 0;
    ASSERT_EQ(::waitpid(server.pid, &status, WNOHANG), 0) << "aiosmtpd exited";
    ASSERT_LT(clock_type::now(), until) << "aiosmtpd did not listen";
    std::this_thread::sleep_for(20ms);
  }

  const auto res = run(mail("smtp://127.0.0.1:" + std::to_string(port)));
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.status, 250);

  std::vector<std::filesystem::path> mails;
  for (const auto& e : std::filesystem::directory_iterator(maildir / "new")) mails.push_back(e.path());
  ASSERT_EQ(mails.size(), 1u);
  std::ifstream in(mails[0], std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string m = text.str();
  EXPECT_NE(m.find("Subject: build 7 failed"), std::string::npos) << m;
  EXPECT_NE(m.find("X-MailFrom: ci@example.org"), std::string::npos) << m;
  EXPECT_NE(m.find("ops@example.org"), std::string::npos) << m;
  EXPECT_NE(m.find("\n.hidden dot line\n.\nlast"), std::string::npos) << m;  // dots unstuffed again
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald::notifiers
