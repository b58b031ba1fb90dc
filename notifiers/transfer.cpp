#include "notifiers/transfer.hpp"

#include <curl/curl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "notifiers/http_client.hpp"

namespace herald::notifiers {
namespace {

constexpr const char* protocols = "http,https,smtp,smtps";
constexpr long poll_ms = 1000;  // curl shortens the wait to its own timers
constexpr std::chrono::milliseconds max_connect{10000};
constexpr std::size_t max_smtp_reply = 200;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("curl_global_init failed");
  });
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != lower(prefix[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 9110 token: header names and methods.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}


// What makes an HTTP request unsendable, before anything reaches the wire;
// empty when it is fine. Both paths (curl, Beast) check with this.
std::string http_request_error(const transfer_request& r) {
  if (!is_line_safe(r.url)) return "invalid URL";
  if (!is_token(r.method)) return "invalid HTTP method";
  for (const auto& [name, value] : r.headers)
    if (!is_token(name) || !is_line_safe(value)) return "invalid HTTP header";
  return {};
}

// "Name <a@b>" -> "a@b"; curl adds the angle brackets itself.
std::string mail_address(std::string_view s) {
  const auto open = s.rfind('<');
  const auto close = s.rfind('>');
  if (open != std::string_view::npos && close != std::string_view::npos && open < close)
    s = s.substr(open + 1, close - open - 1);
  return std::string(trim(s));
}

// Error texts never carry the password or the URL's userinfo (curl does not put
// them there, but a message may echo what it was given).
void redact(std::string& text, const transfer_request& r) {
  const auto scrub = [&](std::string_view secret) {
    if (secret.size() < 3) return;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
      text.replace(at, secret.size(), "***");
  };
  scrub(r.password);
  const auto scheme = r.url.find("://");
  if (scheme != std::string::npos) {
    const auto start = scheme + 3;
    const auto end = r.url.find_first_of("/?#", start);
    const auto authority = std::string_view(r.url).substr(start, end == std::string::npos ? std::string::npos : end - start);
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) scrub(authority.substr(0, at));
  }
}

struct job {
  transfer_request req;
  std::function<void(transfer_result)> done;

  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* rcpt = nullptr;
  std::string url;
  bool smtp = false;
  bool oversize = false;
  std::size_t read_offset = 0;
  std::string smtp_reply;  // the server's last reply line, for errors
  bool authenticated = false;  // SMTP: the server accepted AUTH (235)
  bool unauthenticated = false;  // SMTP: stopped before MAIL because the login was never used
  transfer_result result;
  char errbuf[CURL_ERROR_SIZE] = {};

  job(transfer_request r, std::function<void(transfer_result)> d) : req(std::move(r)), done(std::move(d)) {}
  job(const job&) = delete;
  job& operator=(const job&) = delete;
  ~job() {
    if (easy) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    curl_slist_free_all(rcpt);
  }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto& j = *static_cast<job*>(user);
  const std::size_t len = size * n;
  const std::size_t cap = j.req.max_response_bytes;
  const std::size_t room = cap - std::min(cap, j.result.body.size());
  j.result.body.append(data, std::min(len, room));
  if (len > room) {
    j.oversize = true;
    return 0;  // abort: a long body is never read whole
  }
  return len;
}

std::size_t on_http_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto& j = *static_cast<job*>(user);
  const std::size_t len = size * n;
  const std::string_view line(data, len);
  auto& h = j.result.headers;
  if (starts_with_nocase(line, "HTTP/")) {
    h.clear();  // a new response (after 100 Continue, or a redirect): its headers only
    return len;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return len;  // blank line, folding: ignored
  std::string name(trim(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(), lower);
  h[name] = std::string(trim(line.substr(colon + 1)));
  return len;
}

std::size_t on_smtp_reply(char* data, std::size_t size, std::size_t n, void* user) {
  auto& j = *static_cast<job*>(user);
  const std::size_t len = size * n;
  const auto line = trim(std::string_view(data, len));
  if (line.starts_with("235")) j.authenticated = true;  // RFC 4954: AUTH succeeded, whatever the mechanism
  // Only failures: the QUIT reply comes after the one that made the transfer fail.
  if (!line.empty() && (line.front() == '4' || line.front() == '5'))
    j.smtp_reply = std::string(line.substr(0, max_smtp_reply));
  return len;
}

// Runs once the session is set up (greeting, EHLO, STARTTLS, AUTH), before
// MAIL FROM. libcurl logs in only when the server offers AUTH, and otherwise
// goes on without it; with a login configured, herald stops there instead, as
// Buildbot's mail reporter does. Nothing of the mail has been sent.
int on_smtp_ready(void* user, char*, char*, int, int) {
  auto& j = *static_cast<job*>(user);
  if (j.authenticated) return CURL_PREREQFUNC_OK;
  j.unauthenticated = true;
  return CURL_PREREQFUNC_ABORT;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t n, void* user) {
  auto& j = *static_cast<job*>(user);
  const std::size_t len = std::min(size * n, j.req.body.size() - j.read_offset);
  std::memcpy(buffer, j.req.body.data() + j.read_offset, len);
  j.read_offset += len;
  return len;
}

long as_long(std::chrono::milliseconds ms) { return static_cast<long>(std::max<std::chrono::milliseconds::rep>(ms.count(), 1)); }

// Sets the easy handle up; returns an error text when the request is unusable.
std::string prepare(job& j) {
  const auto& r = j.req;
  if (!is_line_safe(r.url)) return "invalid URL";
  j.url = r.url;
  j.smtp = starts_with_nocase(j.url, "smtp://") || starts_with_nocase(j.url, "smtps://");
  if (j.smtp && r.security == core::smtp_security::tls && starts_with_nocase(j.url, "smtp://"))
    j.url = "smtps" + j.url.substr(4);

  if (j.easy)
    curl_easy_reset(j.easy);  // a handle kept from an earlier transfer: cheaper than a new one
  else
    j.easy = curl_easy_init();
  if (!j.easy) return "out of memory";
  CURL* e = j.easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, &j);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j.errbuf);
  curl_easy_setopt(e, CURLOPT_URL, j.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protocols);
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);  // never wait for a DNS thread on cleanup
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, as_long(r.timeout));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, as_long(std::min(r.timeout, max_connect)));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r.tls_verify ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r.tls_verify ? 2L : 0L);
  if (!r.tls_ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, r.tls_ca_file.c_str());
  if (!r.username.empty()) {
    curl_easy_setopt(e, CURLOPT_USERNAME, r.username.c_str());
    curl_easy_setopt(e, CURLOPT_PASSWORD, r.password.c_str());
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &j);

  if (j.smtp) {
    if (r.mail_to.empty()) return "no mail recipients";
    if (!is_line_safe(r.mail_from)) return "invalid mail sender";
    const std::string from = mail_address(r.mail_from);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, from.c_str());  // curl copies strings
    for (const auto& to : r.mail_to) {
      if (!is_line_safe(to)) return "invalid mail recipient";
      curl_slist* next = curl_slist_append(j.rcpt, mail_address(to).c_str());
      if (!next) return "out of memory";
      j.rcpt = next;
    }
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, j.rcpt);
    curl_easy_setopt(e, CURLOPT_USE_SSL,
                     r.security == core::smtp_security::none ? static_cast<long>(CURLUSESSL_NONE)
                                                              : static_cast<long>(CURLUSESSL_ALL));
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &j);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_smtp_reply);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &j);
    if (!r.username.empty()) {
      curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_smtp_ready);
      curl_easy_setopt(e, CURLOPT_PREREQDATA, &j);
      // A session of its own, so the AUTH reply is this transfer's to see: on a
      // kept connection it would have gone to an earlier one.
      curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    return {};
  }

  // HTTP(S).
  if (auto error = http_request_error(r); !error.empty()) return error;
  if (r.method == "GET" && r.body.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (r.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    if (r.method == "POST" || !r.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());  // not copied: the job owns it
    }
    if (r.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  const auto add = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(j.headers, line.c_str());
    if (next) j.headers = next;
    return next != nullptr;
  };
  for (const auto& [name, value] : r.headers) {
    // "Name;" sends an empty header; "Name:" would remove it.
    if (!add(value.empty() ? name + ";" : name + ": " + value)) return "out of memory";
  }
  if (!add("Expect:")) return "out of memory";  // no 100-continue round trip
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, j.headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "herald");
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_http_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &j);
  return {};
}

void finish(job& j, CURLcode code) {
  long status = 0;
  if (j.easy) curl_easy_getinfo(j.easy, CURLINFO_RESPONSE_CODE, &status);
  j.result.status = status;
  if (j.oversize) {
    j.result.error = "response larger than " + std::to_string(j.req.max_response_bytes) + " bytes";
  } else if (j.unauthenticated) {
    j.result.status = 0;  // the last reply was EHLO's 250, which says nothing of this
    j.result.error = "the server does not offer AUTH, so the login was never used; no mail was sent";
    j.result.permanent = true;
  } else if (code != CURLE_OK) {
    std::string error = curl_easy_strerror(code);
    const std::string_view detail = trim(j.errbuf);
    if (!detail.empty() && detail != error) error += ": " + std::string(detail);
    if (j.smtp && status >= 400 && j.smtp_reply.starts_with(std::to_string(status)))
      error += " (" + j.smtp_reply + ")";
    redact(error, j.req);
    j.result.error = std::move(error);
  }
  if (j.smtp) j.result.headers.clear();
}

void call(job& j) {
  try {
    j.done(std::move(j.result));
  } catch (...) {
    // A callback's failure is its own; the transfer thread goes on.
  }
}

// libcurl on a thread of its own: SMTP, and HTTP through a proxy.
struct curl_thread {
  const std::size_t max_parallel;
  CURLM* multi = nullptr;

  std::mutex mutex;
  std::deque<std::unique_ptr<job>> queue;  // guarded by mutex
  bool wake_pending = false;               // guarded by mutex
  std::atomic<bool> stop{false};

  // Transfer thread only.
  std::unordered_map<CURL*, std::unique_ptr<job>> running;
  std::vector<CURL*> idle;  // easy handles of finished transfers, reused

  std::thread thread;

  explicit curl_thread(std::size_t parallel) : max_parallel(std::max<std::size_t>(parallel, 1)) {
    global_init();
    multi = curl_multi_init();
    if (!multi) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(max_parallel));
    try {
      thread = std::thread([this] { run(); });
    } catch (...) {
      curl_multi_cleanup(multi);
      throw;
    }
  }

  ~curl_thread() {
    stop = true;
    curl_multi_wakeup(multi);
    thread.join();
    for (auto& [easy, j] : running) curl_multi_remove_handle(multi, easy);
    running.clear();  // abandoned: no callbacks
    queue.clear();
    for (CURL* e : idle) curl_easy_cleanup(e);
    curl_multi_cleanup(multi);
  }

  curl_thread(const curl_thread&) = delete;
  curl_thread& operator=(const curl_thread&) = delete;

  void submit(std::unique_ptr<job> j) {
    bool wake = false;
    {
      std::lock_guard lock(mutex);
      queue.push_back(std::move(j));
      wake = !std::exchange(wake_pending, true);
    }
    if (wake) curl_multi_wakeup(multi);
  }

  // Moves queued jobs into the multi handle while there is room; jobs that
  // cannot start fail at once.
  void start_queued(std::vector<std::unique_ptr<job>>& failed) {
    std::vector<std::unique_ptr<job>> starting;
    {
      std::lock_guard lock(mutex);
      wake_pending = false;
      while (running.size() + starting.size() < max_parallel && !queue.empty()) {
        starting.push_back(std::move(queue.front()));
        queue.pop_front();
      }
    }
    for (auto& j : starting) {
      if (!idle.empty()) {
        j->easy = idle.back();
        idle.pop_back();
      }
      std::string error = prepare(*j);
      if (error.empty() && curl_multi_add_handle(multi, j->easy) != CURLM_OK) error = "cannot start the transfer";
      if (!error.empty()) {
        j->result.error = std::move(error);
        failed.push_back(std::move(j));
        continue;
      }
      CURL* easy = j->easy;
      running.emplace(easy, std::move(j));
    }
  }

  void collect(std::vector<std::unique_ptr<job>>& finished) {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;
      const auto it = running.find(easy);
      if (it == running.end()) continue;
      auto j = std::move(it->second);
      running.erase(it);
      curl_multi_remove_handle(multi, easy);
      finish(*j, code);
      if (idle.size() < max_parallel) idle.push_back(std::exchange(j->easy, nullptr));
      finished.push_back(std::move(j));
    }
  }

  void run() {
    pthread_setname_np(pthread_self(), "herald-transfer");
    // Background work: under CPU contention the event loop goes first.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5);
    std::vector<std::unique_ptr<job>> done;
    while (!stop) {
      start_queued(done);
      int still_running = 0;
      curl_multi_perform(multi, &still_running);
      collect(done);
      if (!done.empty()) {
        for (auto& j : done) {
          if (stop) break;
          call(*j);
        }
        done.clear();
        continue;  // room for queued jobs: start them before waiting
      }
      if (curl_multi_poll(multi, nullptr, 0, poll_ms, nullptr) != CURLM_OK)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // never spin
    }
  }
};

// curl reads these itself; a request they apply to goes through curl.
bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}

}  // namespace

struct transfer::impl {
  std::unique_ptr<boost::asio::io_context> own_io;  // HTTP's loop when none is given
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> keep_running;
  std::thread http_thread;
  std::unique_ptr<http_client> http;
  curl_thread curl;
  const bool proxy_http = env_set("http_proxy") || env_set("all_proxy") || env_set("ALL_PROXY");
  const bool proxy_https =
      env_set("https_proxy") || env_set("HTTPS_PROXY") || env_set("all_proxy") || env_set("ALL_PROXY");

  boost::asio::io_context* io;  // where HTTP runs

  impl(boost::asio::io_context* loop, std::size_t parallel) : curl(parallel), io(loop) {
    if (io) {
      http = std::make_unique<http_client>(*io, parallel);
      return;
    }
    own_io = std::make_unique<boost::asio::io_context>(1);
    io = own_io.get();
    keep_running.emplace(own_io->get_executor());
    http = std::make_unique<http_client>(*own_io, parallel);
    http_thread = std::thread([this] {
      pthread_setname_np(pthread_self(), "herald-http");
      own_io->run();
    });
  }

  ~impl() {
    if (own_io) {
      own_io->stop();
      http_thread.join();
    }
    http.reset();  // closes its connections; requests in flight are abandoned
  }

  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  bool over_beast(const std::string& url) const {
    if (starts_with_nocase(url, "http://")) return !proxy_http;
    if (starts_with_nocase(url, "https://")) return !proxy_https;
    return false;
  }
};

transfer::transfer(std::size_t max_parallel) : impl_(std::make_unique<impl>(nullptr, max_parallel)) {}

transfer::transfer(boost::asio::io_context& io, std::size_t max_parallel)
    : impl_(std::make_unique<impl>(&io, max_parallel)) {}

transfer::~transfer() = default;

bool transfer::calls_back_on_loop() const { return !impl_->own_io; }

std::size_t transfer::http_in_flight() const { return impl_->own_io ? 0 : impl_->http->in_flight(); }

void transfer::prepare_tls(const std::string& url, bool verify, const std::filesystem::path& ca_file) {
  auto& i = *impl_;
  if (!starts_with_nocase(url, "https://") || !i.over_beast(url)) return;  // curl reads its own
  if (i.own_io)
    boost::asio::post(*i.io, [http = i.http.get(), verify, ca_file] { http->prepare_tls(verify, ca_file); });
  else
    i.http->prepare_tls(verify, ca_file);
}

// (Not find_first_of: libstdc++ makes that one memchr call per character.)
bool is_line_safe(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

void transfer::submit(transfer_request r, std::function<void(transfer_result)> done) {
  auto& i = *impl_;
  if (!i.over_beast(r.url)) {
    if (!i.own_io) {
      // On the loop, like HTTP's.
      done = [io = i.io, done = std::move(done)](transfer_result res) {
        boost::asio::post(*io, [done, res = std::move(res)]() mutable {
          try {
            done(std::move(res));
          } catch (...) {
          }
        });
      };
    }
    i.curl.submit(std::make_unique<job>(std::move(r), std::move(done)));
    return;
  }
  if (auto error = http_request_error(r); !error.empty()) {
    // Never a callback inside submit.
    boost::asio::post(*i.io, [done = std::move(done), error = std::move(error)]() mutable {
      transfer_result res;
      res.error = std::move(error);
      try {
        done(std::move(res));
      } catch (...) {
      }
    });
    return;
  }
  if (i.own_io)
    boost::asio::post(*i.io, [http = i.http.get(), r = std::move(r), done = std::move(done)]() mutable {
      http->submit(std::move(r), std::move(done));
    });
  else
    i.http->submit(std::move(r), std::move(done));
}

}  // namespace herald::notifiers
