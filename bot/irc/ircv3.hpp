// IRCv3 capability negotiation (CAP LS 302, REQ, ACK/NAK, NEW/DEL, END) and the SASL
// wire helpers, as pure logic: the client feeds server lines in and sends what comes out.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bot/irc/message.hpp"

namespace herald::bot::irc {

struct cap_entry {
  std::string name;   // without a `-` (disable) or old `~`/`=` modifier
  std::string value;  // after `=`; empty when none
  bool removed = false;  // `-name` in an ACK: the server disabled it
};

// A space-separated capability list as in CAP LS / ACK / NEW / DEL.
std::vector<cap_entry> parse_cap_list(std::string_view text);

class cap_negotiator {
 public:
  // `wanted`: the capabilities we can use (without "sasl"); `sasl_mechanism`: "PLAIN",
  // "EXTERNAL" or empty for none. SASL is requested only when the server offers our mechanism.
  cap_negotiator(std::vector<std::string> wanted, std::string sasl_mechanism);

  struct step {
    std::vector<std::string> lines;  // to send now, each with CRLF
    bool start_sasl = false;         // send `AUTHENTICATE <mechanism>` now
    bool finished = false;           // negotiation is over (CAP END is among `lines`)
  };

  static std::string ls_line() { return "CAP LS 302\r\n"; }

  // A CAP line from the server (params: target, subcommand, ...).
  step on_cap(const message& m);
  // The SASL exchange ended, either way: ends the negotiation.
  step sasl_finished();
  // The server registered us (001) or refused CAP (421): no negotiation happens any more.
  void abandon();

  enum class phase { listing, requesting, authenticating, done };
  phase current() const noexcept { return phase_; }
  // Whether the server answered CAP LS at all.
  bool answered() const noexcept { return answered_; }
  bool offered(std::string_view cap) const;
  std::optional<std::string> offered_value(std::string_view cap) const;
  bool enabled(std::string_view cap) const;
  // The server offers sasl with our mechanism (a bare `sasl` offers every mechanism).
  bool sasl_available() const;
  const std::string& sasl_mechanism() const noexcept { return mechanism_; }

 private:
  std::vector<std::string> requestable(const std::vector<cap_entry>& caps) const;
  step request(std::vector<std::string> names);
  step finish();
  step after_requests();

  std::vector<std::string> wanted_;
  std::string mechanism_;
  phase phase_ = phase::listing;
  bool answered_ = false;
  std::vector<cap_entry> offered_;
  std::vector<cap_entry> listing_;  // multi-line LS collected until its last line
  std::vector<std::string> enabled_;
  int outstanding_ = 0;  // REQ lines not yet answered with ACK or NAK
};

// Standard base64 with padding.
std::string base64_encode(std::string_view bytes);
// SASL PLAIN: `authzid \0 authcid \0 password`, authzid = authcid.
std::string sasl_plain_message(std::string_view user, std::string_view password);
// `AUTHENTICATE` lines for a base64 payload: 400-byte chunks, then `+` when the last chunk
// was exactly 400 bytes; an empty payload is a single `AUTHENTICATE +`.
std::vector<std::string> authenticate_lines(std::string_view base64);

// A line we write, fit for a log: passwords in PASS, AUTHENTICATE payloads and
// NickServ IDENTIFY are replaced by ****.
std::string redact_for_log(std::string_view line);

}  // namespace herald::bot::irc
