// The IRC transport: one connection to one server, on Boost.Asio (+ OpenSSL for TLS).
// Registration (CAP, SASL, NickServ), nick fallback and reclaim, reconnect and rejoin,
// flood control, identities and channel operators, and delivery that counts a line only
// once the server confirmed it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bot/transport.hpp"
#include "config/config.hpp"

namespace boost::asio {
class io_context;
}
namespace spdlog {
class logger;
}

namespace herald::bot::irc {

struct client_stats {
  std::size_t connects = 0;
  std::size_t lines_sent = 0;
  std::size_t lines_confirmed = 0;
  std::size_t queued = 0;  // lines waiting to be sent or confirmed
  std::size_t dropped = 0;
};

class client final : public transport {
 public:
  client(boost::asio::io_context& io, const config::irc_section& cfg, std::shared_ptr<spdlog::logger> log);
  ~client() override;
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  void set_events(transport_events ev);
  // Connects, and keeps reconnecting until stop().
  void start();
  // Sends QUIT (after flushing what is queued, for at most `flush_timeout`),
  // closes the connection and calls `done`.
  void stop(std::string quit_message, std::function<void()> done);

  std::string current_nick() const override;
  void send(outgoing msg) override;
  void join(const std::string& channel, const std::string& key) override;
  void part(const std::string& channel, const std::string& reason) override;
  std::vector<std::string> joined_channels() const override;

  client_stats stats() const;
  // Whether to ask WHOIS for the account of a sender when the server tags none
  // (on by default; worth turning off when no [authz] rule names an account).
  void set_account_lookup(bool on);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace herald::bot::irc
