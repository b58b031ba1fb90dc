// The IRC connection on Boost.Asio coroutines: connect (optionally TLS), register, keep
// alive, reconnect and rejoin, and a paced writer that counts a line as delivered only
// once the server has answered a PING marker written after it.
//
// Everything runs on the io_context thread; the public methods must be called there too.
//
// Delivery: lines of `outgoing` messages ("tracked" lines) wait in three queues, in this
// order: resend (written before but never confirmed), replies, notifications. Each
// written tracked line gets a write number and waits in `unconfirmed_`. The writer then
// sends `PING :herald-mark-N`, remembering the last write number it covers, when nothing
// tracked is left to write or after 4 tracked lines. The server answers PINGs in order,
// after processing everything before them, so its PONG confirms every line up to that
// number. When the connection drops, unconfirmed lines move to the front of the resend
// queue, and go out after the rejoin.
// Marker PINGs take tokens from the same bucket as PRIVMSGs, because ngircd counts them
// against its flood limit. A lone message within the burst costs nothing extra; a storm
// pays one marker per 4 lines (20 lines at 1 line/s: ~25 s instead of ~20 s). That
// bounds how long a confirmation waits and how much a server crash makes us send twice.
// At most max_in_flight_bytes of tracked lines are written but unconfirmed at any time,
// so a server whose fakelag reads slower than our flood_rate never sees its queue overflow.
//
// Registration: `CAP LS 302` goes out with NICK and USER, so a server without CAP (421,
// or silence) registers us as before. With CAP, we request what we can use, run SASL
// when configured, and only then send CAP END (see ircv3.hpp for the pure logic).
//
// Identities: accounts come from SASL (ours), the `account` tag, ACCOUNT (account-notify)
// and extended-join, tracked per nick in `state_` (channel_state.hpp). Without the tag, a
// PRIVMSG from a nick whose account is unknown waits for a WHOIS (330/318, at most
// whois_timeout) before it reaches on_message. Nick changes and quits forget accounts,
// so a nick taken over by someone else never inherits its old owner's account.
//
// Bursts (summarize_bursts): when the writer takes a one-line notification, later one-line
// notifications for the same target still waiting join it on one line (shaping.hpp); the
// combined line confirms all of them. After a lost connection they are split up again.
#include "bot/irc/client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
// At -O2, GCC's -Wnull-dereference fires inside Asio's executor comparison after
// inlining (io_context.hpp), which system-header suppression misses.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#pragma GCC diagnostic pop
#include <charconv>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <random>
#include <spdlog/spdlog.h>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "bot/irc/channel_state.hpp"
#include "bot/irc/flood.hpp"
#include "bot/irc/ircv3.hpp"
#include "bot/irc/message.hpp"
#include "bot/irc/shaping.hpp"

namespace herald::bot::irc {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

constexpr std::size_t marker_every = 4;          // tracked lines per PING marker at most
constexpr std::size_t delivered_memory = 10000;  // confirmed ids remembered for dedupe
constexpr std::size_t max_nick_attempts = 20;
constexpr auto stop_flush_timeout = std::chrono::seconds(2);
constexpr auto stop_quit_timeout = std::chrono::seconds(2);
constexpr auto connect_timeout = std::chrono::seconds(30);
constexpr std::string_view marker_prefix = "herald-mark-";
constexpr std::string_view keepalive_token = "herald-keepalive";
constexpr auto sasl_timeout = std::chrono::seconds(20);
constexpr auto whois_timeout = std::chrono::seconds(3);
constexpr std::size_t max_whois_pending = 32;  // nicks waiting for a WHOIS answer
constexpr std::size_t max_held_per_nick = 8;   // their messages held meanwhile
constexpr std::size_t burst_scan = 200;        // queued lines looked at for a burst
// Bytes of tracked lines written but not yet confirmed. A server with fakelag reads our
// lines slower than flood_rate may write them; past its receive queue (4 KiB by default on
// InspIRCd) it disconnects us for flooding. Waiting for the PONG keeps us under it.
constexpr std::size_t max_in_flight_bytes = 2048;

// The capabilities we use when the server offers them (sasl is added when configured).
// echo-message is left out: PING markers already confirm delivery on every server.
const std::vector<std::string> wanted_caps = {"message-tags", "echo-message", "server-time",   "account-tag",
                                              "account-notify", "extended-join", "multi-prefix",
                                              "batch",          "cap-notify"};

steady::duration to_steady(config::seconds s) {
  if (s.count() <= 0) return steady::duration::zero();
  return std::chrono::duration_cast<steady::duration>(s);
}

auto redirect(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

// One piece of an `outgoing`'s text.
struct line_part {
  std::uint64_t msg = 0;  // the outgoing it belongs to
  std::string text;
};

// A line waiting to be written (one part), or written and waiting for its marker (one
// part, or several combined from a burst). Serialized when written, so the channel's
// modes at that moment decide about formatting.
struct tracked_line {
  std::vector<line_part> parts;
  std::string command;  // PRIVMSG or NOTICE
  std::string target;
  std::uint64_t write_no = 0;  // set when written
  std::size_t wire_bytes = 0;  // set when written
  std::string sent_text;       // the text as written, to match the server's echo

  bool has(std::uint64_t msg) const {
    return std::any_of(parts.begin(), parts.end(), [&](const line_part& p) { return p.msg == msg; });
  }
};

// An `outgoing` while any of its lines is unconfirmed.
struct pending_message {
  std::string id;
  priority prio = priority::reply;
  std::size_t lines_left = 0;  // lines not yet confirmed
  std::size_t lines_total = 0;
  bool dropped = false;
};

enum class sasl_phase { off, started, payload_sent, succeeded, failed };

struct marker {
  std::uint64_t number = 0;
  std::uint64_t covers = 0;  // every line with write_no <= covers
};

// One TCP (+TLS) connection and its per-connection state.
struct connection {
  explicit connection(asio::io_context& io, cap_negotiator negotiator)
      : socket(io), wake(io), pace(io), tick(io), cap(std::move(negotiator)) {}

  tcp::socket socket;
  std::unique_ptr<ssl::context> tls_context;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls;
  asio::steady_timer wake;  // the writer sleeps here until there is something to write
  asio::steady_timer pace;  // the writer waits here for a flood-control token
  asio::steady_timer tick;  // the watchdog's clock
  bool closed = false;
  bool registered = false;
  bool quit_sent = false;
  std::size_t nick_attempt = 0;
  steady::time_point opened = steady::now();
  steady::time_point last_ping{};
  std::deque<std::string> urgent;   // PONG, registration, QUIT: no pacing
  std::deque<std::string> control;  // JOIN, PART, NICK, CTCP replies: paced, not tracked
  cap_negotiator cap;
  sasl_phase sasl = sasl_phase::off;
  steady::time_point sasl_deadline{};
  bool sasl_warned = false;        // "going on without SASL" logged once
  bool close_when_flushed = false;  // close once the urgent lines (a QUIT) are written
  bool auth_failed = false;
};

// A PRIVMSG sender whose account we are asking the server about.
struct whois_wait {
  std::string nick;
  std::deque<incoming_message> held;
  std::string account;  // from 330
  steady::time_point deadline{};
};

}  // namespace

struct client::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io, const config::irc_section& cfg, std::shared_ptr<spdlog::logger> log)
      : io_(io),
        cfg_(cfg),
        log_(log ? std::move(log) : spdlog::default_logger()),
        delay_timer_(io),
        bucket_(cfg.flood_burst, cfg.flood_rate),
        rng_(std::random_device{}()),
        current_nick_(cfg.nick) {
    for (const auto& c : cfg_.channels) channels_.emplace_back(c.name, c.key);
  }

  asio::io_context& io_;
  config::irc_section cfg_;
  std::shared_ptr<spdlog::logger> log_;
  transport_events events_;
  asio::steady_timer delay_timer_;
  token_bucket bucket_;
  token_bucket ctcp_bucket_{2, 0.2};  // CTCP replies: two, then one per 5 s
  std::mt19937 rng_;

  bool running_ = false;
  bool stop_requested_ = false;
  std::string quit_message_;
  std::vector<std::function<void()>> done_;
  steady::time_point stop_deadline_{};

  std::shared_ptr<connection> conn_;
  std::string current_nick_;
  std::string my_user_;  // as the server reports us; empty until known
  std::string my_host_;
  steady::time_point last_rx_ = steady::now();
  steady::time_point last_reclaim_{};
  std::vector<std::pair<std::string, std::string>> channels_;  // wanted: (name, key)

  // Delivery state; see the top of this file.
  std::deque<tracked_line> resend_, replies_, notifications_, unconfirmed_;
  std::unordered_map<std::uint64_t, pending_message> messages_;
  channel_state state_;                      // channels, prefixes, modes, accounts: this connection
  std::map<std::string, whois_wait> whois_;  // by folded nick
  bool account_lookup_ = true;               // WHOIS for accounts the server does not tag
  std::unordered_set<std::string> pending_ids_;
  std::unordered_set<std::string> delivered_ids_;
  std::deque<std::string> delivered_order_;  // eviction order for delivered_ids_
  std::deque<marker> markers_;
  std::uint64_t next_msg_ = 0;
  std::uint64_t write_counter_ = 0;
  std::uint64_t marker_counter_ = 0;
  std::size_t unmarked_ = 0;  // tracked lines written since the last marker
  std::size_t in_flight_bytes_ = 0;  // wire bytes of the lines in unconfirmed_
  client_stats stats_;

  // ---- helpers -------------------------------------------------------------------

  template <typename F>
  void guarded(const char* what, F&& f) {
    // One broken callback must not take the connection down with it.
    try {
      f();
    } catch (const std::exception& e) {
      log_->error("irc: {} callback threw: {}", what, e.what());
    } catch (...) {
      log_->error("irc: {} callback threw", what);
    }
  }

  // Callbacks raised from inside a public method run later, so the caller is never re-entered.
  void post_event(std::function<void()> f) {
    asio::post(io_, [self = shared_from_this(), f = std::move(f)] { self->guarded("event", f); });
  }

  steady::duration random_delay(const config::delay_range& r) {
    double lo = r.min.count(), hi = r.max.count();
    if (hi < lo) std::swap(lo, hi);
    if (lo < 0) lo = 0;
    if (hi < lo) hi = lo;
    std::uniform_real_distribution<double> dist(lo, hi);
    return to_steady(config::seconds(dist(rng_)));
  }

  std::size_t queued_lines() const { return resend_.size() + replies_.size() + notifications_.size(); }

  std::string sasl_mechanism() const {
    if (cfg_.sasl_mechanism == "plain") return "PLAIN";
    if (cfg_.sasl_mechanism == "external") return "EXTERNAL";
    return {};
  }
  bool sasl_wanted() const { return !sasl_mechanism().empty(); }
  const std::string& sasl_user() const { return cfg_.sasl_username.empty() ? cfg_.nick : cfg_.sasl_username; }

  void set_nick(std::string nick) {
    current_nick_ = std::move(nick);
    state_.set_own_nick(current_nick_);
  }
  bool tracked_waiting() const { return queued_lines() != 0; }

  void notify() {
    if (!conn_) return;
    conn_->wake.cancel();
    conn_->pace.cancel();
  }

  void push_urgent(std::string line) {
    if (!conn_ || conn_->closed) return;
    conn_->urgent.push_back(std::move(line));
    notify();
  }

  void push_control(std::string line) {
    if (!conn_ || conn_->closed) return;
    conn_->control.push_back(std::move(line));
    notify();
  }

  void close_connection(const std::shared_ptr<connection>& c) {
    if (c->closed) return;
    c->closed = true;
    error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_both, ignored);
    c->socket.close(ignored);
    c->wake.cancel();
    c->pace.cancel();
    c->tick.cancel();
  }

  // ---- the main loop -------------------------------------------------------------

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    while (!stop_requested_) {
      bool was_registered = false;
      try {
        was_registered = co_await session();
      } catch (const std::exception& e) {
        log_->error("irc: connection failed unexpectedly: {}", e.what());
      }
      if (conn_) {
        close_connection(conn_);
        connection_lost();
        conn_.reset();
      }
      if (stop_requested_) break;
      auto delay = random_delay(was_registered ? cfg_.lost_delay : cfg_.failed_delay);
      log_->info("irc: reconnecting to {}:{} in {:.1f} s", cfg_.host, cfg_.port,
                 std::chrono::duration<double>(delay).count());
      error_code ec;
      delay_timer_.expires_after(delay);
      co_await delay_timer_.async_wait(redirect(ec));
    }
    running_ = false;
    log_->info("irc: stopped");
    auto done = std::move(done_);
    done_.clear();
    for (auto& d : done)
      if (d) guarded("stop", d);
  }

  // One connection from connect to close. Returns whether it got registered.
  asio::awaitable<bool> session() {
    auto c = std::make_shared<connection>(io_, cap_negotiator(wanted_caps, sasl_mechanism()));
    conn_ = c;
    state_.reset();
    error_code ec;

    // connect and TLS handshake are bounded, so a black-holed address cannot hang us
    asio::steady_timer guard(io_);
    guard.expires_after(connect_timeout);
    guard.async_wait([c](error_code e) {
      if (e) return;
      error_code ignored;
      c->socket.close(ignored);
    });

    log_->info("irc: connecting to {}:{}{}", cfg_.host, cfg_.port, cfg_.tls ? " (TLS)" : "");
    tcp::resolver resolver(io_);
    auto endpoints = co_await resolver.async_resolve(cfg_.host, std::to_string(cfg_.port), redirect(ec));
    if (ec || c->closed) {
      log_->warn("irc: cannot resolve {}: {}", cfg_.host, ec.message());
      co_return false;
    }
    co_await asio::async_connect(c->socket, endpoints, redirect(ec));
    if (ec || c->closed) {
      log_->warn("irc: cannot connect to {}:{}: {}", cfg_.host, cfg_.port, ec.message());
      co_return false;
    }
    c->socket.set_option(tcp::no_delay(true), ec);  // see DESIGN.md: short lines stall without it
    if (cfg_.tls && !co_await tls_handshake(c)) co_return false;
    guard.cancel();

    ++stats_.connects;
    log_->info("irc: connected to {}:{}", cfg_.host, cfg_.port);
    last_rx_ = steady::now();
    bucket_ = token_bucket(cfg_.flood_burst, cfg_.flood_rate);  // the server's counters start afresh too
    set_nick(cfg_.nick);
    if (!cfg_.password.empty()) c->urgent.push_back(serialize("PASS", {cfg_.password.reveal()}));
    c->urgent.push_back(cap_negotiator::ls_line());
    c->urgent.push_back(serialize("NICK", {current_nick_}));
    c->urgent.push_back(serialize("USER", {cfg_.username, "0", "*", cfg_.realname}));

    auto self = shared_from_this();
    auto on_done = [self, c](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        self->log_->error("irc: connection task failed: {}", ex.what());
      } catch (...) {
      }
      self->close_connection(c);
    };
    asio::co_spawn(io_, writer(c), on_done);
    asio::co_spawn(io_, watchdog(c), on_done);
    co_await reader(c);
    close_connection(c);
    co_return c->registered && !c->auth_failed;
  }

  asio::awaitable<bool> tls_handshake(std::shared_ptr<connection> c) {
    error_code ec;
    c->tls_context = std::make_unique<ssl::context>(ssl::context::tls_client);
    c->tls_context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                ssl::context::no_sslv3 | ssl::context::no_compression);
    if (cfg_.tls_verify) {
      c->tls_context->set_verify_mode(ssl::verify_peer);
      if (!cfg_.tls_ca_file.empty())
        c->tls_context->load_verify_file(cfg_.tls_ca_file.string(), ec);
      else
        c->tls_context->set_default_verify_paths(ec);
      if (ec) {
        log_->error("irc: cannot load trusted certificates: {}", ec.message());
        co_return false;
      }
    } else {
      c->tls_context->set_verify_mode(ssl::verify_none);
      log_->warn("irc: TLS certificate verification is off");
    }
    if (!cfg_.tls_client_cert.empty()) {
      // The client certificate: SASL EXTERNAL, or services' CertFP.
      auto key = cfg_.tls_client_key.empty() ? cfg_.tls_client_cert : cfg_.tls_client_key;
      c->tls_context->use_certificate_chain_file(cfg_.tls_client_cert.string(), ec);
      if (!ec) c->tls_context->use_private_key_file(key.string(), ssl::context::pem, ec);
      if (ec) {
        log_->error("irc: cannot load the TLS client certificate {} / key {}: {}", cfg_.tls_client_cert.string(),
                    key.string(), ec.message());
        co_return false;
      }
    }
    c->tls = std::make_unique<ssl::stream<tcp::socket&>>(c->socket, *c->tls_context);
    if (cfg_.tls_verify) c->tls->set_verify_callback(ssl::host_name_verification(cfg_.host));
    error_code not_ip;
    asio::ip::make_address(cfg_.host, not_ip);
    if (not_ip) {
      // SNI; the macro SSL_set_tlsext_host_name hides a C cast, so call SSL_ctrl directly.
      SSL_ctrl(c->tls->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(cfg_.host.c_str()));
    }
    co_await c->tls->async_handshake(ssl::stream_base::client, redirect(ec));
    if (ec || c->closed) {
      log_->warn("irc: TLS handshake with {} failed: {}", cfg_.host, ec.message());
      co_return false;
    }
    co_return true;
  }

  // ---- reading -------------------------------------------------------------------

  // Acknowledge at once rather than after the kernel's delayed-ACK timer: the
  // server's Nagle would otherwise hold its next line to us (often the next
  // command) until our ACK for the previous one (a PONG) arrives, about 40 ms.
  // Linux clears the flag after use, so it is set again after every read.
  static void quick_ack(tcp::socket& s) {
    int one = 1;
    ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  }

  asio::awaitable<void> reader(std::shared_ptr<connection> c) {
    std::array<char, 4096> buf{};
    line_reader lines;
    std::size_t discarded = 0;
    for (;;) {
      error_code ec;
      std::size_t n = 0;
      if (c->tls)
        n = co_await c->tls->async_read_some(asio::buffer(buf), redirect(ec));
      else
        n = co_await c->socket.async_read_some(asio::buffer(buf), redirect(ec));
      if (ec) {
        if (!c->closed) {
          if (c->quit_sent)
            log_->info("irc: connection closed");
          else if (ec == asio::error::eof || ec == ssl::error::stream_truncated)
            log_->warn("irc: server closed the connection");
          else
            log_->warn("irc: read failed: {}", ec.message());
        }
        co_return;
      }
      last_rx_ = steady::now();
      quick_ack(c->socket);
      lines.feed(std::string_view(buf.data(), n));
      while (auto line = lines.next()) {
        handle_line(c, *line);
        if (c->closed) co_return;
      }
      if (lines.discarded() != discarded) {
        discarded = lines.discarded();
        log_->warn("irc: discarded an over-long line from the server ({} so far)", discarded);
      }
    }
  }

  void handle_line(const std::shared_ptr<connection>& c, const std::string& line) {
    log_->trace("irc <- {}", line);
    auto m = parse(line);
    if (!m) {
      log_->debug("irc: ignoring a malformed line: {}", line);
      return;
    }
    try {
      dispatch(c, *m);
    } catch (const std::exception& e) {
      log_->error("irc: error handling {}: {}", m->command, e.what());
    }
  }

  static const std::string& param(const message& m, std::size_t i) {
    static const std::string none;
    return i < m.params.size() ? m.params[i] : none;
  }

  void dispatch(const std::shared_ptr<connection>& c, const message& m) {
    const auto& cmd = m.command;
    if (cmd == "PING") {
      push_urgent(m.params.empty() ? std::string("PONG\r\n") : serialize("PONG", {m.params.back()}));
    } else if (cmd == "PONG") {
      if (!m.params.empty()) on_pong(m.params.back());
    } else if ((cmd == "PRIVMSG" || cmd == "NOTICE") && is_echo(c, m)) {
      on_echo(m.params[0], m.params[1]);
    } else if (cmd == "001") {
      on_registered(c, m);
    } else if (cmd == "005") {
      // <me> TOKEN TOKEN ... :are supported by this server
      if (m.params.size() >= 3) state_.apply_isupport({m.params.begin() + 1, m.params.end() - 1});
    } else if (cmd == "CAP") {
      on_cap(c, m);
    } else if (cmd == "AUTHENTICATE") {
      on_authenticate(c, m);
    } else if (cmd == "900") {
      // <me> <mask> <account> :You are now logged in as ...
      state_.on_account(current_nick_, param(m, 2));
      log_->info("irc: logged in as account {}", param(m, 2));
    } else if (cmd == "901") {
      state_.on_account(current_nick_, "*");
      log_->info("irc: logged out of our account");
    } else if (cmd == "903" || cmd == "907") {
      on_sasl_success(c);
    } else if (cmd == "902" || cmd == "904" || cmd == "905" || cmd == "906") {
      on_sasl_failure(c, cmd + " " + param(m, m.params.size() - 1));
    } else if (cmd == "908") {
      log_->info("irc: the server's SASL mechanisms: {}", param(m, 1));
    } else if (cmd == "421") {
      if (param(m, 1) == "CAP") on_no_cap(c);
    } else if (cmd == "433" || cmd == "432" || cmd == "436" || cmd == "437") {
      on_nick_refused(c, m);
    } else if (cmd == "NICK") {
      on_nick(m);
    } else if (cmd == "QUIT") {
      auto nick = nick_of(m.prefix);
      state_.on_quit(nick);
      if (irc_iequal(nick, cfg_.nick)) reclaim_nick();
    } else if (cmd == "JOIN") {
      on_join(c, m);
    } else if (cmd == "PART") {
      auto nick = nick_of(m.prefix);
      state_.on_part(nick, param(m, 0));
      if (irc_iequal(nick, current_nick_)) log_->info("irc: left {}", param(m, 0));
    } else if (cmd == "KICK") {
      state_.on_kick(param(m, 0), param(m, 1));
      if (irc_iequal(param(m, 1), current_nick_))
        log_->warn("irc: kicked from {} by {}: {}", param(m, 0), nick_of(m.prefix), param(m, 2));
    } else if (cmd == "MODE") {
      if (m.params.size() >= 2 && state_.support().is_channel(m.params[0]))
        state_.on_mode(m.params[0], {m.params.begin() + 1, m.params.end()});
    } else if (cmd == "353") {
      // <me> <type> <channel> :names
      if (m.params.size() >= 4) state_.on_names(m.params[2], m.params[3]);
    } else if (cmd == "324") {
      // <me> <channel> <modes> [params]
      if (m.params.size() >= 3) state_.on_channel_modes(m.params[1], {m.params.begin() + 2, m.params.end()});
    } else if (cmd == "ACCOUNT") {
      state_.on_account(nick_of(m.prefix), param(m, 0));
    } else if (cmd == "330") {
      // <me> <nick> <account> :is logged in as
      if (auto it = whois_.find(fold(param(m, 1))); it != whois_.end()) it->second.account = param(m, 2);
    } else if (cmd == "318") {
      release_whois(param(m, 1), true);
    } else if (cmd == "396") {
      if (m.params.size() >= 2) my_host_ = m.params[1];  // RPL_HOSTHIDDEN: our visible host
    } else if (cmd == "NOTICE") {
      // Bots must not answer notices; they are only logged.
      log_->debug("irc: notice from {}: {}", m.prefix, param(m, 1));
    } else if (cmd == "ERROR") {
      on_error(c, m);
    } else if (cmd == "464" || cmd == "465") {
      log_->error("irc: server refused us: {}", param(m, m.params.size() - 1));
    } else if (cmd == "PRIVMSG") {
      on_privmsg(c, m);
    } else if (cmd == "404" || cmd == "401" || cmd == "406" || cmd == "407" || cmd == "492") {
      log_->warn("irc: cannot send to {}: {}", param(m, 1), param(m, 2));
      // The server processed and refused it: it will never echo, so it counts as done.
      if (c->cap.enabled("echo-message")) on_echo(param(m, 1), {});
    } else if (cmd == "471" || cmd == "473" || cmd == "474" || cmd == "475" || cmd == "403" || cmd == "477") {
      log_->warn("irc: cannot join {}: {}", param(m, 1), param(m, 2));
    }
  }

  std::string fold(std::string_view nick) const { return fold_case(nick, state_.support().casemap); }

  // ---- CAP and SASL ----------------------------------------------------------------

  void on_cap(const std::shared_ptr<connection>& c, const message& m) {
    auto step = c->cap.on_cap(m);
    if (step.finished && sasl_wanted() && c->sasl != sasl_phase::succeeded) {
      // The negotiation ends without SASL: the server does not offer our mechanism.
      auto offered = c->cap.offered_value("sasl");
      std::string why = !offered ? "the server does not offer SASL"
                                 : "the server offers SASL " + (offered->empty() ? std::string("?") : *offered) +
                                       ", not " + sasl_mechanism();
      if (!without_sasl(c, why)) return;  // CAP END is not sent: we are leaving
    }
    apply_cap_step(c, std::move(step));
  }

  void apply_cap_step(const std::shared_ptr<connection>& c, cap_negotiator::step step) {
    for (auto& l : step.lines) push_urgent(std::move(l));
    if (step.start_sasl) {
      c->sasl = sasl_phase::started;
      c->sasl_deadline = steady::now() + sasl_timeout;
      log_->info("irc: authenticating with SASL {} as {}", sasl_mechanism(), sasl_user());
      push_urgent("AUTHENTICATE " + sasl_mechanism() + "\r\n");
    }
    if (step.finished) {
      std::string caps;
      for (const auto& name : wanted_caps)
        if (c->cap.enabled(name)) caps += (caps.empty() ? "" : " ") + name;
      if (c->cap.enabled("sasl")) caps += " sasl";
      log_->info("irc: capabilities: {}", caps.empty() ? std::string("none") : caps);
    }
  }

  // SASL cannot happen; returns whether to go on (unauthenticated) or not (sasl_required).
  bool without_sasl(const std::shared_ptr<connection>& c, const std::string& why) {
    if (cfg_.sasl_required) {
      fail_authentication(c, why);
      return false;
    }
    if (!c->sasl_warned) {
      c->sasl_warned = true;
      log_->warn("irc: going on without SASL: {}", why);
    }
    return true;
  }

  // sasl_required and no SASL: do not finish registration; QUIT and retry after failed_delay.
  void fail_authentication(const std::shared_ptr<connection>& c, const std::string& why) {
    if (c->auth_failed) return;
    c->auth_failed = true;
    c->sasl = sasl_phase::failed;
    log_->error("irc: SASL {} as {} failed: {}; sasl_required is set, so quitting and retrying later",
                sasl_mechanism().empty() ? std::string("-") : sasl_mechanism(), sasl_user(), why);
    c->quit_sent = true;
    c->close_when_flushed = true;
    push_urgent(serialize("QUIT", {"SASL authentication failed"}));
  }

  void on_no_cap(const std::shared_ptr<connection>& c) {
    if (c->cap.current() != cap_negotiator::phase::listing) return;
    c->cap.abandon();
    log_->info("irc: the server does not support CAP");
    if (sasl_wanted()) without_sasl(c, "the server does not support CAP");
  }

  void on_authenticate(const std::shared_ptr<connection>& c, const message& m) {
    if (c->sasl != sasl_phase::started) return;
    if (param(m, 0) != "+") {
      // PLAIN and EXTERNAL expect an empty challenge; anything else is not ours to answer.
      log_->warn("irc: unexpected SASL challenge; aborting SASL");
      push_urgent("AUTHENTICATE *\r\n");
      return;
    }
    c->sasl = sasl_phase::payload_sent;
    std::string payload;
    if (sasl_mechanism() == "PLAIN")
      payload = base64_encode(sasl_plain_message(sasl_user(), cfg_.sasl_password.reveal()));
    // EXTERNAL: an empty authorization identity; the certificate says who we are.
    for (auto& l : authenticate_lines(payload)) push_urgent(std::move(l));
  }

  void on_sasl_success(const std::shared_ptr<connection>& c) {
    if (c->sasl != sasl_phase::started && c->sasl != sasl_phase::payload_sent) return;
    c->sasl = sasl_phase::succeeded;
    log_->info("irc: SASL {} authentication succeeded", sasl_mechanism());
    apply_cap_step(c, c->cap.sasl_finished());
  }

  void on_sasl_failure(const std::shared_ptr<connection>& c, const std::string& why) {
    if (c->sasl != sasl_phase::started && c->sasl != sasl_phase::payload_sent) return;
    c->sasl = sasl_phase::failed;
    if (!without_sasl(c, why)) return;
    apply_cap_step(c, c->cap.sasl_finished());
  }

  void check_sasl_timeout(const std::shared_ptr<connection>& c, steady::time_point now) {
    if ((c->sasl == sasl_phase::started || c->sasl == sasl_phase::payload_sent) && now >= c->sasl_deadline) {
      push_urgent("AUTHENTICATE *\r\n");
      on_sasl_failure(c, "no answer from the server");
    }
  }

  void on_registered(const std::shared_ptr<connection>& c, const message& m) {
    c->cap.abandon();
    if (sasl_wanted() && c->sasl != sasl_phase::succeeded && !c->auth_failed) {
      if (!without_sasl(c, c->cap.answered() ? "not authenticated" : "the server does not support CAP")) return;
    }
    if (c->auth_failed) return;
    c->registered = true;
    if (!m.params.empty() && !m.params[0].empty()) set_nick(m.params[0]);
    last_reclaim_ = steady::now();
    log_->info("irc: registered as {}", current_nick_);
    if (!irc_iequal(current_nick_, cfg_.nick))
      log_->warn("irc: nick {} is taken; using {} and will try to reclaim it", cfg_.nick, current_nick_);
    if (!cfg_.nickserv_password.empty() && c->sasl != sasl_phase::succeeded) {
      // Ahead of the JOINs, so channels that want an identified user let us in.
      log_->info("irc: identifying to {} as {}", cfg_.nickserv_name, cfg_.nick);
      c->control.push_back(
          serialize("PRIVMSG", {cfg_.nickserv_name, "IDENTIFY " + cfg_.nick + " " + cfg_.nickserv_password.reveal()}));
    }
    // JOINs go ahead of resent and new lines; the server processes them in order, so
    // those lines reach the channels after the rejoin.
    for (auto& l : join_lines(channels_)) c->control.push_back(std::move(l));
    notify();
    if (events_.on_connected) guarded("on_connected", events_.on_connected);
  }

  void on_nick_refused(const std::shared_ptr<connection>& c, const message& m) {
    if (c->registered) {
      log_->debug("irc: nick change refused: {}", param(m, m.params.size() - 1));
      return;
    }
    if (++c->nick_attempt >= max_nick_attempts) {
      log_->error("irc: no nick accepted after {} attempts", c->nick_attempt);
      close_connection(c);
      return;
    }
    std::string refused = current_nick_;
    set_nick(nick_candidate(cfg_.nick, cfg_.alt_nicks, c->nick_attempt));
    log_->info("irc: nick {} refused ({}), trying {}", refused, m.command, current_nick_);
    push_urgent(serialize("NICK", {current_nick_}));
  }

  void on_nick(const message& m) {
    auto who = nick_of(m.prefix);
    const auto& to = param(m, 0);
    if (to.empty()) return;
    // With account-notify the server tells us of account changes, so the account follows
    // the person; otherwise it must be looked up again under the new nick.
    bool keep = conn_ && conn_->cap.enabled("account-notify");
    state_.on_nick(who, to, keep);
    if (irc_iequal(who, current_nick_)) {
      set_nick(to);
      log_->info("irc: now known as {}", current_nick_);
    } else if (irc_iequal(who, cfg_.nick)) {
      reclaim_nick();  // the holder of our nick moved away
    }
  }

  void reclaim_nick() {
    if (!conn_ || !conn_->registered || irc_iequal(current_nick_, cfg_.nick)) return;
    last_reclaim_ = steady::now();
    log_->debug("irc: trying to reclaim nick {}", cfg_.nick);
    push_control(serialize("NICK", {cfg_.nick}));
  }

  void on_join(const std::shared_ptr<connection>& c, const message& m) {
    auto mask = parse_mask(m.prefix);
    const auto& channel = param(m, 0);
    std::optional<std::string> account;
    // extended-join: JOIN <channel> <account or *> :<realname>
    if (c->cap.enabled("extended-join") && m.params.size() >= 2) account = m.params[1];
    state_.on_join(mask.nick, channel, std::move(account));
    if (!irc_iequal(mask.nick, current_nick_)) return;
    // Our own JOIN echo tells us how the server shows us to others: the split budget.
    if (!mask.user.empty()) my_user_ = mask.user;
    if (!mask.host.empty()) my_host_ = mask.host;
    log_->info("irc: joined {}", channel);
    // Colours are stripped at send time on +c channels, so we need the channel's modes.
    if (cfg_.use_colors) push_control(serialize("MODE", {channel}));
  }

  void on_error(const std::shared_ptr<connection>& c, const message& m) {
    if (c->quit_sent)
      log_->info("irc: server closed after our QUIT: {}", param(m, 0));
    else
      log_->warn("irc: server error: {}", param(m, 0));
    if (c->quit_sent && c->registered) {
      // The server processes lines in order; its ERROR reply to our QUIT means every
      // line before the QUIT was processed.
      confirm_up_to(write_counter_);
    }
  }

  // ---- incoming messages and identities --------------------------------------------

  void on_privmsg(const std::shared_ptr<connection>& c, const message& m) {
    if (m.params.size() < 2) return;
    std::string_view target = m.params[0];
    const auto& text = m.params[1];
    auto mask = parse_mask(m.prefix);
    if (mask.nick.empty() || irc_iequal(mask.nick, current_nick_)) return;  // ours, echoed
    if (auto ctcp = parse_ctcp(text)) {
      on_ctcp(mask, *ctcp);
      return;
    }
    const auto& support = state_.support();
    // STATUSMSG (`@#chan`): a message to the channel's operators is still from the channel.
    if (target.size() > 1 && support.statusmsg.find(target.front()) != std::string::npos &&
        support.is_channel(target.substr(1)))
      target.remove_prefix(1);
    incoming_message in;
    in.channel = support.is_channel(target) ? std::string(target) : std::string{};
    in.channel_operator = !in.channel.empty() && state_.is_operator(in.channel, mask.nick);
    in.from.nick = std::move(mask.nick);
    in.from.user = std::move(mask.user);
    in.from.host = std::move(mask.host);
    in.text = strip_formatting(text);  // bold or colour around a command word is not part of it
    if (auto t = m.tags.find("time"); t != m.tags.end())
      log_->trace("irc: message from {} sent at {}", in.from.nick, t->second);

    if (c->cap.enabled("account-tag")) {
      // The tag is on every message of a logged-in user; none means not logged in.
      auto it = m.tags.find("account");
      in.from.account = it != m.tags.end() ? it->second : std::string();
      deliver(in);
      return;
    }
    auto key = fold(in.from.nick);
    if (auto w = whois_.find(key); w != whois_.end()) {
      hold(w->second, std::move(in));  // keep the order of this nick's messages
      return;
    }
    if (auto account = state_.account(in.from.nick)) {
      in.from.account = *account;
      deliver(in);
      return;
    }
    if (!account_lookup_) {  // no rule names an account: a WHOIS would only add latency
      deliver(in);
      return;
    }
    if (whois_.size() >= max_whois_pending) {
      log_->debug("irc: too many WHOIS pending; {} gets no account", in.from.nick);
      deliver(in);
      return;
    }
    auto& w = whois_[key];
    w.nick = in.from.nick;
    w.deadline = steady::now() + whois_timeout;
    push_control(serialize("WHOIS", {in.from.nick}));
    hold(w, std::move(in));
  }

  void hold(whois_wait& w, incoming_message in) {
    if (w.held.size() >= max_held_per_nick) {
      log_->debug("irc: {} sends faster than WHOIS answers; dropping a message", w.nick);
      return;
    }
    w.held.push_back(std::move(in));
  }

  // 318 (answered) or the timeout (not answered): the held messages go on, in order.
  void release_whois(std::string_view nick, bool answered) {
    auto it = whois_.find(fold(nick));
    if (it == whois_.end()) return;
    auto w = std::move(it->second);
    whois_.erase(it);
    if (answered)
      state_.remember_account(w.nick, w.account);
    else
      log_->debug("irc: no WHOIS answer for {}; going on without an account", w.nick);
    for (auto& in : w.held) {
      in.from.account = answered ? w.account : std::string();
      deliver(in);
    }
  }

  void expire_whois(steady::time_point now) {
    std::vector<std::string> late;
    for (const auto& [k, w] : whois_)
      if (now >= w.deadline) late.push_back(w.nick);
    for (const auto& n : late) release_whois(n, false);
  }

  void deliver(const incoming_message& in) {
    if (events_.on_message) guarded("on_message", [&] { events_.on_message(in); });
  }

  void on_ctcp(const user_mask& from, const ctcp_request& r) {
    if (r.command == "ACTION") return;  // /me is chat, not a command
    if (!ctcp_bucket_.try_take(steady::now())) {
      log_->debug("irc: ignoring CTCP {} from {} (rate limit)", r.command, from.nick);
      return;
    }
    if (r.command == "VERSION") {
      push_control(serialize("NOTICE", {from.nick, ctcp_version_reply()}));
    } else {
      log_->debug("irc: ignoring CTCP {} from {}", r.command, from.nick);
    }
  }

  // ---- delivery ------------------------------------------------------------------

  void on_pong(const std::string& token) {
    std::string_view t(token);
    if (t.substr(0, marker_prefix.size()) != marker_prefix) return;
    t.remove_prefix(marker_prefix.size());
    std::uint64_t number = 0;
    auto [end, err] = std::from_chars(t.data(), t.data() + t.size(), number);
    if (err != std::errc{} || end != t.data() + t.size()) return;
    std::uint64_t covers = 0;
    bool found = false;
    while (!markers_.empty() && markers_.front().number <= number) {
      covers = markers_.front().covers;
      found = true;
      markers_.pop_front();
    }
    if (found) confirm_up_to(covers);
  }

  // With echo-message the server sends our own PRIVMSG/NOTICE back once it has
  // processed it: that confirms the line without a PING marker.
  bool is_echo(const std::shared_ptr<connection>& c, const message& m) const {
    return c->cap.enabled("echo-message") && m.params.size() >= 2 && irc_iequal(nick_of(m.prefix), current_nick_);
  }

  // Confirms the first unconfirmed line to `target` (with `text`, unless empty),
  // and with it every line written before: the server handles lines in order.
  void on_echo(std::string_view target, std::string_view text) {
    for (const auto& l : unconfirmed_) {
      if (!irc_iequal(l.target, target)) continue;
      if (!text.empty() && l.sent_text != text && strip_formatting(l.sent_text) != strip_formatting(text)) continue;
      confirm_up_to(l.write_no);
      return;
    }
  }

  void confirm_up_to(std::uint64_t write_no) {
    std::vector<std::string> delivered;
    while (!unconfirmed_.empty() && unconfirmed_.front().write_no <= write_no) {
      auto line = std::move(unconfirmed_.front());
      unconfirmed_.pop_front();
      ++stats_.lines_confirmed;
      in_flight_bytes_ -= std::min(in_flight_bytes_, line.wire_bytes);
      for (const auto& part : line.parts) {
        auto it = messages_.find(part.msg);
        if (it == messages_.end()) continue;
        if (it->second.lines_left > 0) --it->second.lines_left;
        if (it->second.lines_left != 0) continue;
        if (!it->second.dropped && !it->second.id.empty()) {
          remember_delivered(it->second.id);
          delivered.push_back(it->second.id);
        }
        if (!it->second.id.empty()) pending_ids_.erase(it->second.id);
        messages_.erase(it);
      }
    }
    for (const auto& id : delivered) {
      log_->debug("irc: delivered {}", id);
      if (events_.on_delivered) guarded("on_delivered", [&] { events_.on_delivered(id); });
    }
    // The writer may be waiting for this before QUIT, or for room in the window.
    notify();
  }

  void remember_delivered(const std::string& id) {
    if (!delivered_ids_.insert(id).second) return;
    delivered_order_.push_back(id);
    while (delivered_order_.size() > delivered_memory) {
      delivered_ids_.erase(delivered_order_.front());
      delivered_order_.pop_front();
    }
  }

  // The connection is gone: what was written but not confirmed is sent again first.
  void connection_lost() {
    if (!unconfirmed_.empty())
      log_->info("irc: {} unconfirmed line(s) will be sent again", unconfirmed_.size());
    // A combined burst line goes back as its parts; the resend may combine them again.
    std::deque<tracked_line> again;
    for (auto& l : unconfirmed_)
      for (auto& p : l.parts) again.push_back({{std::move(p)}, l.command, l.target, 0, 0, {}});
    resend_.insert(resend_.begin(), std::make_move_iterator(again.begin()), std::make_move_iterator(again.end()));
    unconfirmed_.clear();
    in_flight_bytes_ = 0;
    markers_.clear();
    unmarked_ = 0;
    // Held messages go on without an account rather than wait for a WHOIS that never comes.
    std::vector<std::string> waiting;
    for (const auto& [k, w] : whois_) waiting.push_back(w.nick);
    for (const auto& n : waiting) release_whois(n, false);
    state_.reset();
  }

  // Lines are split when queued but may be written after a reconnect under a fallback
  // nick, so the budget assumes the longest nick we might be using by then.
  std::string budget_nick() const {
    std::size_t longest = std::max(current_nick_.size(), cfg_.nick.size() + 3);
    for (const auto& n : cfg_.alt_nicks) longest = std::max(longest, n.size());
    return std::string(longest, 'x');
  }

  void enqueue(outgoing m) {
    if (!m.id.empty() && (delivered_ids_.count(m.id) != 0 || pending_ids_.count(m.id) != 0)) {
      log_->debug("irc: {} already delivered or pending; not sending it again", m.id);
      return;
    }
    auto target = sanitize(m.target);
    if (target.empty() || target.find(' ') != std::string::npos) {
      log_->warn("irc: not sending to an invalid target '{}'", target);
      return;
    }
    auto budget = privmsg_budget(budget_nick(), my_user_, my_host_, target);
    auto pieces = split_text(sanitize(m.text), budget);
    if (pieces.empty()) {
      // Nothing to say is trivially delivered.
      if (!m.id.empty()) {
        remember_delivered(m.id);
        post_event([self = shared_from_this(), id = m.id] {
          if (self->events_.on_delivered) self->events_.on_delivered(id);
        });
      }
      return;
    }
    auto seq = ++next_msg_;
    auto& queue = m.prio == priority::reply ? replies_ : notifications_;
    bool notice = m.prio == priority::notification && cfg_.notice_on_channel && state_.support().is_channel(target);
    std::string command = notice ? "NOTICE" : "PRIVMSG";
    for (auto& p : pieces) queue.push_back({{{seq, std::move(p)}}, command, target, 0, 0, {}});
    if (!m.id.empty()) pending_ids_.insert(m.id);
    messages_[seq] = pending_message{std::move(m.id), m.prio, pieces.size(), pieces.size(), false};
    enforce_bound();
    notify();
  }

  void enforce_bound() {
    std::size_t bound = std::max<std::size_t>(cfg_.max_queue, 1);
    while (queued_lines() > bound) {
      std::optional<std::uint64_t> victim;
      // Queued lines always have exactly one part (bursts are combined when written).
      auto is_notification = [&](const tracked_line& l) {
        auto it = messages_.find(l.parts.front().msg);
        return it != messages_.end() && it->second.prio == priority::notification;
      };
      // The oldest notification: resent lines are older than anything else queued.
      for (const auto& l : resend_)
        if (is_notification(l)) {
          victim = l.parts.front().msg;
          break;
        }
      if (!victim && !notifications_.empty()) victim = notifications_.front().parts.front().msg;
      if (!victim) victim = !resend_.empty() ? resend_.front().parts.front().msg : replies_.front().parts.front().msg;
      drop_message(*victim);
    }
  }

  void drop_message(std::uint64_t seq) {
    std::size_t removed = 0;
    auto remove = [&](std::deque<tracked_line>& q) {
      removed += std::erase_if(q, [&](const tracked_line& l) { return l.has(seq); });
    };
    remove(resend_);
    remove(replies_);
    remove(notifications_);
    stats_.dropped += removed;
    auto it = messages_.find(seq);
    if (it == messages_.end()) return;
    auto& msg = it->second;
    msg.dropped = true;
    msg.lines_left -= std::min(msg.lines_left, removed);
    std::string id = msg.id;
    log_->warn("irc: queue full ({} lines): dropped {} {}", cfg_.max_queue,
               msg.prio == priority::reply ? "a reply" : "notification", id);
    if (!id.empty()) pending_ids_.erase(id);
    if (msg.lines_left == 0) messages_.erase(it);
    if (!id.empty())
      post_event([self = shared_from_this(), id] {
        if (self->events_.on_dropped) self->events_.on_dropped(id);
      });
  }

  // ---- writing -------------------------------------------------------------------

  asio::awaitable<bool> write_line(std::shared_ptr<connection> c, std::string line) {
    if (log_->should_log(spdlog::level::trace)) log_->trace("irc -> {}", redact_for_log(line));
    error_code ec;
    if (c->tls)
      co_await asio::async_write(*c->tls, asio::buffer(line), redirect(ec));
    else
      co_await asio::async_write(c->socket, asio::buffer(line), redirect(ec));
    if (ec) {
      if (!c->closed) log_->warn("irc: write failed: {}", ec.message());
      close_connection(c);
      co_return false;
    }
    co_return true;
  }

  // Whether a queued line is a whole one-line notification, which may join a burst.
  bool combinable(const tracked_line& l) const {
    if (l.parts.size() != 1) return false;
    auto it = messages_.find(l.parts.front().msg);
    return it != messages_.end() && it->second.prio == priority::notification && it->second.lines_total == 1 &&
           !it->second.dropped;
  }

  // The front line of `q`, with the notifications for the same target that wait behind it
  // when they fit on one line (shaping.hpp).
  tracked_line take_burst(std::deque<tracked_line>& q) {
    auto first = std::move(q.front());
    q.pop_front();
    // Only a real backlog is summed up: while tokens are left, lines go out as they are.
    if (!cfg_.summarize_bursts || q.empty() || !combinable(first) || bucket_.available(steady::now()) >= 1.0)
      return first;
    std::vector<burst_candidate> candidates;
    candidates.push_back({first.target, first.command, first.parts.front().text, true});
    for (std::size_t i = 0; i < q.size() && candidates.size() < burst_scan; ++i)
      candidates.push_back({q[i].target, q[i].command, q[i].parts.front().text, combinable(q[i])});
    auto budget = privmsg_budget(budget_nick(), my_user_, my_host_, first.target);
    auto picked = plan_burst(candidates, budget, burst_scan);
    if (picked.size() < 2) return first;
    for (std::size_t k = 1; k < picked.size(); ++k)
      first.parts.push_back(std::move(q[picked[k] - 1].parts.front()));
    for (std::size_t k = picked.size() - 1; k >= 1; --k)
      q.erase(q.begin() + static_cast<std::ptrdiff_t>(picked[k] - 1));
    log_->debug("irc: {} notifications for {} on one line", first.parts.size(), first.target);
    return first;
  }

  std::string wire_of(const tracked_line& l) const {
    std::string text;
    if (l.parts.size() == 1) {
      text = l.parts.front().text;
    } else {
      std::vector<std::string_view> texts;
      for (const auto& p : l.parts) texts.emplace_back(p.text);
      text = join_burst(texts);
    }
    bool channel = state_.support().is_channel(l.target);
    if (cfg_.use_colors && channel && (!state_.modes_known(l.target) || state_.has_mode(l.target, 'c'))) {
      // +c: the server would refuse (or strip) coloured lines. Until the channel's modes
      // are known (just after a join), we cannot tell, so we strip too.
      text = strip_formatting(text);
      if (text.empty()) text = " ";
    }
    return serialize(l.command, {l.target, text});
  }

  asio::awaitable<void> sleep(asio::steady_timer& t, steady::time_point until) {
    error_code ec;
    t.expires_at(until);
    co_await t.async_wait(redirect(ec));
  }

  enum class next_kind { none, marker, control, tracked };

  next_kind pick_next(const connection& c) const {
    bool window_full = in_flight_bytes_ >= max_in_flight_bytes;
    // Echoes confirm lines one by one; a marker then only closes a burst, in case
    // the server dropped a line without echo or error.
    bool marker_due = c.cap.enabled("echo-message")
                          ? unmarked_ != 0 && !tracked_waiting()
                          : unmarked_ != 0 && (unmarked_ >= marker_every || !tracked_waiting() || window_full);
    if (marker_due) return next_kind::marker;
    if (!c.control.empty()) return next_kind::control;
    if (tracked_waiting() && !window_full) return next_kind::tracked;
    return next_kind::none;
  }

  asio::awaitable<void> writer(std::shared_ptr<connection> c) {
    auto self = shared_from_this();
    for (;;) {
      if (c->closed) co_return;
      if (!c->urgent.empty()) {
        auto line = std::move(c->urgent.front());
        c->urgent.pop_front();
        if (!co_await write_line(c, std::move(line))) co_return;
        continue;
      }
      if (c->close_when_flushed) {
        close_connection(c);
        co_return;
      }
      auto now = steady::now();
      if (!c->registered) {
        co_await sleep(c->wake, steady::time_point::max());
        continue;
      }
      if (stop_requested_ && !c->quit_sent) {
        bool flushed = !tracked_waiting() && unconfirmed_.empty() && c->control.empty();
        if (flushed || now >= stop_deadline_) {
          if (!flushed) log_->warn("irc: quitting with {} line(s) not confirmed", queued_lines() + unconfirmed_.size());
          c->quit_sent = true;
          c->urgent.push_back(serialize("QUIT", {quit_message_}));
          continue;
        }
      }
      if (c->quit_sent) {
        co_await sleep(c->wake, steady::time_point::max());
        continue;
      }
      auto kind = pick_next(*c);
      if (kind == next_kind::none) {
        co_await sleep(c->wake, stop_requested_ ? stop_deadline_ : steady::time_point::max());
        continue;
      }
      if (!bucket_.try_take(now)) {
        auto until = now + bucket_.until_available(now);
        if (stop_requested_) until = std::min(until, stop_deadline_);
        co_await sleep(c->pace, until);
        continue;
      }
      std::string line;
      switch (kind) {
        case next_kind::marker: {
          ++marker_counter_;
          markers_.push_back({marker_counter_, write_counter_});
          unmarked_ = 0;
          line = "PING :" + std::string(marker_prefix) + std::to_string(marker_counter_) + "\r\n";
          break;
        }
        case next_kind::control:
          line = std::move(c->control.front());
          c->control.pop_front();
          break;
        case next_kind::tracked: {
          auto& q = !resend_.empty() ? resend_ : !replies_.empty() ? replies_ : notifications_;
          auto l = take_burst(q);
          l.write_no = ++write_counter_;
          line = wire_of(l);
          l.wire_bytes = line.size();
          if (auto parsed = parse(line); parsed && parsed->params.size() >= 2) l.sent_text = parsed->params[1];
          in_flight_bytes_ += line.size();
          // Counted as written before the write completes: if it fails, it is resent.
          unconfirmed_.push_back(std::move(l));
          ++unmarked_;
          ++stats_.lines_sent;
          break;
        }
        case next_kind::none:
          break;
      }
      if (!co_await write_line(c, std::move(line))) co_return;
    }
  }

  // ---- keepalive, timeouts, nick reclaim ------------------------------------------

  asio::awaitable<void> watchdog(std::shared_ptr<connection> c) {
    auto self = shared_from_this();
    auto ping_interval = to_steady(cfg_.ping_interval);
    auto ping_timeout = to_steady(cfg_.ping_timeout);
    auto reclaim_interval = to_steady(cfg_.reclaim_nick_interval);
    auto tick = std::clamp<steady::duration>(ping_interval / 4, std::chrono::milliseconds(100),
                                             std::chrono::seconds(1));
    for (;;) {
      co_await sleep(c->tick, steady::now() + tick);
      if (c->closed) co_return;
      auto now = steady::now();
      auto silent = now - last_rx_;
      if (ping_timeout > steady::duration::zero() && silent >= ping_timeout) {
        log_->warn("irc: nothing from the server for {:.0f} s; reconnecting",
                   std::chrono::duration<double>(silent).count());
        close_connection(c);
        co_return;
      }
      if (!c->registered && now - c->opened >= std::max<steady::duration>(ping_timeout, std::chrono::seconds(10))) {
        log_->warn("irc: registration timed out");
        close_connection(c);
        co_return;
      }
      if (ping_interval > steady::duration::zero() && silent >= ping_interval && now - c->last_ping >= ping_interval) {
        c->last_ping = now;
        push_urgent(serialize("PING", {std::string(keepalive_token)}));
      }
      if (c->registered && reclaim_interval > steady::duration::zero() && now - last_reclaim_ >= reclaim_interval)
        reclaim_nick();
      check_sasl_timeout(c, now);
      expire_whois(now);
      if (c->quit_sent && now >= stop_deadline_ + stop_quit_timeout) {
        close_connection(c);
        co_return;
      }
    }
  }

  // ---- stop ----------------------------------------------------------------------

  void request_stop(std::string quit_message, std::function<void()> done) {
    if (!running_) {
      if (done) post_event(std::move(done));
      return;
    }
    done_.push_back(std::move(done));
    if (stop_requested_) return;
    stop_requested_ = true;
    quit_message_ = sanitize(quit_message);
    stop_deadline_ = steady::now() + stop_flush_timeout;
    delay_timer_.cancel();
    if (conn_ && !conn_->registered)
      close_connection(conn_);
    else
      notify();
  }

  // The owner is going away: no more callbacks, close everything now.
  void shutdown_now() {
    events_ = {};
    done_.clear();
    stop_requested_ = true;
    delay_timer_.cancel();
    if (conn_) close_connection(conn_);
  }
};

client::client(asio::io_context& io, const config::irc_section& cfg, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<impl>(io, cfg, std::move(log))) {}

client::~client() { impl_->shutdown_now(); }

void client::set_events(transport_events ev) { impl_->events_ = std::move(ev); }

void client::start() {
  if (impl_->running_ || impl_->stop_requested_) return;
  impl_->running_ = true;
  auto self = impl_;
  asio::co_spawn(impl_->io_, impl_->run(), [self](std::exception_ptr e) {
    if (!e) return;
    self->running_ = false;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      self->log_->critical("irc: client loop ended: {}", ex.what());
    } catch (...) {
      self->log_->critical("irc: client loop ended");
    }
  });
}

void client::stop(std::string quit_message, std::function<void()> done) {
  impl_->request_stop(std::move(quit_message), std::move(done));
}

std::string client::current_nick() const { return impl_->current_nick_; }

void client::set_account_lookup(bool on) { impl_->account_lookup_ = on; }

std::vector<std::string> client::joined_channels() const { return impl_->state_.channels(); }

void client::send(outgoing msg) { impl_->enqueue(std::move(msg)); }

void client::join(const std::string& channel, const std::string& key) {
  auto& chans = impl_->channels_;
  auto it = std::find_if(chans.begin(), chans.end(), [&](const auto& c) { return irc_iequal(c.first, channel); });
  if (it == chans.end())
    chans.emplace_back(channel, key);
  else
    it->second = key;
  if (impl_->conn_ && impl_->conn_->registered)
    for (auto& l : join_lines({{channel, key}})) impl_->push_control(std::move(l));
}

void client::part(const std::string& channel, const std::string& reason) {
  auto& chans = impl_->channels_;
  std::erase_if(chans, [&](const auto& c) { return irc_iequal(c.first, channel); });
  if (impl_->conn_ && impl_->conn_->registered)
    impl_->push_control(reason.empty() ? serialize("PART", {channel}) : serialize("PART", {channel, reason}));
}

client_stats client::stats() const {
  auto s = impl_->stats_;
  s.queued = impl_->queued_lines() + impl_->unconfirmed_.size();
  return s;
}

}  // namespace herald::bot::irc
