#include "notifiers/mail.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The message is text for libcurl's SMTP upload. libcurl dot-stuffs it (its
// SMTP upload turns a line starting with "." into ".."; checked against
// aiosmtpd, which hands back the lines as composed), so this file must NOT do
// it, or receivers would see doubled dots.
//
// Choices:
// - Every line ends in CRLF and stays far below the 998-octet limit of RFC 5322
//   2.1.1: header values are folded at 78 columns where a fold is possible and
//   fall back to RFC 2047 encoded-words (which can be cut anywhere between
//   characters) where not; bodies are encoded.
// - The text body is quoted-printable, not base64: reports are mostly ASCII,
//   so QP stays readable in a raw mailbox and in logs, costs little, and still
//   makes the message 7-bit clean with short lines. Attachments (logs that may
//   hold anything) are base64 in 76-column lines.
// - Inputs are hostile (subjects come from branch names, file names from step
//   names): CR, LF and NUL never reach a header; header names keep token
//   characters only; invalid UTF-8 becomes U+FFFD so the declared charset holds.

namespace herald::notifiers {
namespace {

constexpr std::size_t fold_width = 78;       // RFC 5322 2.1.1 "SHOULD"
constexpr std::size_t encoded_word_max = 75;  // RFC 2047 2
constexpr std::string_view ew_prefix = "=?UTF-8?B?";
constexpr std::string_view ew_suffix = "?=";
constexpr std::string_view crlf = "\r\n";

// ---------------------------------------------------------------- text basics

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not valid.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t n = 0;
  std::uint32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
    min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  std::uint32_t cp = b0 & (0x7Fu >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Invalid UTF-8 bytes become U+FFFD.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// A header value input without CR, LF and NUL: a run of CR/LF becomes one
// space (so "a\r\nBcc: x" stays readable and on one line), NUL goes, invalid
// UTF-8 becomes U+FFFD.
std::string header_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_break = false;
  for (const char c : s) {
    if (c == '\r' || c == '\n') {
      if (!in_break) out += ' ';
      in_break = true;
      continue;
    }
    in_break = false;
    if (c != '\0') out += c;
  }
  return valid_utf8(out);
}

bool is_printable_ascii(std::string_view s) {
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((b < 0x20 && c != '\t') || b > 0x7E) return false;
  }
  return true;
}

// Plain ASCII that a reader would not mistake for encoded-words.
bool needs_no_encoding(std::string_view s) {
  return is_printable_ascii(s) && s.find("=?") == std::string_view::npos;
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// RFC 7230 tchar: what a header name may hold here.
bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_wsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

// ---------------------------------------------------------------- base64

constexpr std::string_view b64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_append(std::string& out, std::string_view in) {
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 2]));
    out += b64_alphabet[(v >> 18) & 63];
    out += b64_alphabet[(v >> 12) & 63];
    out += b64_alphabet[(v >> 6) & 63];
    out += b64_alphabet[v & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest == 0) return;
  std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
  if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
  out += b64_alphabet[(v >> 18) & 63];
  out += b64_alphabet[(v >> 12) & 63];
  out += rest == 2 ? b64_alphabet[(v >> 6) & 63] : '=';
  out += '=';
}

// Base64 in lines of 76 characters, each ending in CRLF (RFC 2045 6.8).
std::string base64_lines(std::string_view data) {
  constexpr std::size_t bytes_per_line = 57;  // 76 characters
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4 + (data.size() / bytes_per_line + 1) * 2);
  for (std::size_t i = 0; i < data.size(); i += bytes_per_line) {
    base64_append(out, data.substr(i, bytes_per_line));
    out += crlf;
  }
  return out;
}

// ---------------------------------------------------------------- RFC 2047

std::size_t encoded_word_size(std::size_t bytes) {
  return ew_prefix.size() + (bytes + 2) / 3 * 4 + ew_suffix.size();
}

// Encoded-words for `text` (valid UTF-8), each cut between characters. The
// first word fits in `first_room` columns when it can (at least one character
// always goes in), the others in 75.
std::vector<std::string> encoded_words(std::string_view text, std::size_t first_room) {
  std::vector<std::string> words;
  std::size_t room = first_room;
  std::size_t i = 0;
  do {
    std::size_t end = i;
    while (end < text.size()) {
      std::size_t n = utf8_sequence(text, end);
      if (n == 0) n = 1;  // cannot happen after valid_utf8; never loop forever
      if (end > i && encoded_word_size(end + n - i) > room) break;
      end += n;
    }
    std::string w(ew_prefix);
    base64_append(w, text.substr(i, end - i));
    w += ew_suffix;
    words.push_back(std::move(w));
    i = end;
    room = encoded_word_max;
  } while (i < text.size());
  return words;
}

// ---------------------------------------------------------------- folding

// Builds one header field. Chunks that start with whitespace are fold points:
// a CRLF goes before one when it would pass 78 columns and the line holds more
// than the field name. Unfolding only removes the CRLFs, so no character of
// the value is lost or added by folding.
class field {
 public:
  explicit field(std::string_view name) : text_(name), line_(name.size() + 1), start_(line_) {
    text_ += ':';
  }

  void put(std::string_view chunk) {
    if (!chunk.empty() && is_wsp(chunk.front()) && !trim(chunk).empty() && line_ > start_ &&
        line_ + chunk.size() > fold_width) {
      text_ += crlf;
      line_ = 0;
      start_ = 0;
    }
    text_ += chunk;
    line_ += chunk.size();
  }

  std::size_t column() const { return line_; }

  std::string done() && {
    text_ += crlf;
    return std::move(text_);
  }

 private:
  std::string text_;
  std::size_t line_;   // columns used on the current line
  std::size_t start_;  // columns the field name takes on the first line; 0 after a fold
};

// Longest chunk put as plain text; longer words are encoded, which can be cut.
constexpr std::size_t max_plain_chunk = 800;

// "<whitespace>word" pieces of a text; the first may have no whitespace.
std::vector<std::string_view> chunks(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && is_wsp(text[j])) ++j;
    while (j < text.size() && !is_wsp(text[j])) ++j;
    out.push_back(text.substr(i, j - i));
    i = j;
  }
  return out;
}

bool plain_fits(std::string_view text) {
  for (const auto c : chunks(text))
    if (c.size() > max_plain_chunk) return false;
  return true;
}

// Plain ASCII text, folded at its whitespace.
void put_plain(field& f, std::string_view text) {
  bool first = true;
  for (const auto c : chunks(text)) {
    if (first) {
      std::string lead = " ";
      lead += c;
      f.put(lead);
      first = false;
    } else {
      f.put(c);
    }
  }
}

// Encoded-words, one per chunk; the first fits the rest of the line if it can.
void put_encoded(field& f, std::string_view text) {
  const std::size_t used = f.column() + 1;
  std::size_t room = used < fold_width ? fold_width - used : 0;
  if (room < encoded_word_size(4)) room = encoded_word_max;  // goes to the next line
  for (const auto& w : encoded_words(text, room)) {
    std::string chunk = " ";
    chunk += w;
    f.put(chunk);
  }
}

// An unstructured value (free of CR/LF/NUL, valid UTF-8).
void put_unstructured(field& f, std::string_view value) {
  if (value.empty()) return;
  if (needs_no_encoding(value) && plain_fits(value))
    put_plain(f, value);
  else
    put_encoded(f, value);
}

// ---------------------------------------------------------------- addresses

bool has_specials(std::string_view s) {
  return s.find_first_of("()<>[]:;@\\,.\"") != std::string_view::npos;
}

std::string unquote(std::string_view s) {
  std::string out;
  for (std::size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// "Name <addr>" or "addr", split; both trimmed.
std::pair<std::string_view, std::string_view> mailbox_parts(std::string_view v) {
  v = trim(v);
  const std::size_t lt = v.rfind('<');
  if (lt == std::string_view::npos || v.empty() || v.back() != '>') return {{}, v};
  return {trim(v.substr(0, lt)), v.substr(lt + 1, v.size() - lt - 2)};
}

// The address as a header shows it: no whitespace, controls, angle brackets or
// commas, at most max_plain_chunk bytes.
std::string mailbox_address(std::string_view header_safe) {
  std::string out;
  for (const char c : mailbox_parts(header_safe).second)
    if (!is_wsp(c) && c != '<' && c != '>' && c != ',' && static_cast<unsigned char>(c) >= 0x20 && c != 0x7F)
      out += c;
  if (out.size() > max_plain_chunk) out.resize(max_plain_chunk);
  return out;
}

// One mailbox, "Name <addr>" or "addr" (as header_text made it): the display
// name quoted or encoded as needed, then `clean_addr` (its mailbox_address).
void put_mailbox(field& f, std::string_view s, const std::string& clean_addr) {
  const std::string_view name = mailbox_parts(s).first;

  std::string display;
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
    display = unquote(name);
  else
    display = std::string(name);
  if (display.empty()) {
    f.put(" " + clean_addr);
    return;
  }
  if (needs_no_encoding(display) && display.size() < max_plain_chunk) {
    if (has_specials(display))
      f.put(" " + quote(display));
    else
      put_plain(f, display);
  } else {
    put_encoded(f, display);
  }
  f.put(" <" + clean_addr + ">");
}

// A msg-id without its angle brackets: no whitespace, controls or brackets.
std::string msg_id(std::string_view id) {
  std::string out;
  for (const char c : header_text(id))
    if (!is_wsp(c) && c != '<' && c != '>') out += c;
  if (out.size() > max_plain_chunk) out.resize(max_plain_chunk);
  return out;
}

// ---------------------------------------------------------------- date

std::string rfc5322_date(core::time_point tp) {
  using namespace std::chrono;
  static constexpr std::array<const char*, 7> wdays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto secs = floor<seconds>(tp);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const weekday wd{day};
  const hh_mm_ss hms{secs - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d +0000", wdays[wd.c_encoding()],
                static_cast<unsigned>(ymd.day()), months[static_cast<unsigned>(ymd.month()) - 1],
                static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  return buf;
}

// ---------------------------------------------------------------- bodies

char hex_digit(unsigned v) { return "0123456789ABCDEF"[v & 15]; }

// Quoted-printable (RFC 2045 6.7) with CRLF hard line breaks for every line
// break of the text (CRLF, LF or a lone CR), encoded lines of at most 76
// characters, and a final CRLF. Whitespace before a line break is encoded, and
// so is the F of a line starting "From " (mbox-safe); dots are left to libcurl.
std::string quoted_printable(std::string_view text) {
  constexpr std::size_t max_line = 75;  // plus the "=" of a soft break
  std::string out;
  out.reserve(text.size() + text.size() / 8 + 16);
  std::size_t col = 0;
  auto put = [&](std::string_view token) {
    if (col + token.size() > max_line) {
      out += "=\r\n";
      col = 0;
    }
    out += token;
    col += token.size();
  };
  std::size_t i = 0;
  bool line_start = true;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\r' || c == '\n') {
      out += crlf;
      col = 0;
      line_start = true;
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2u : 1u;
      continue;
    }
    const auto b = static_cast<unsigned char>(c);
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    const bool literal = (b >= 33 && b <= 126 && c != '=') || (is_wsp(c) && !at_line_end);
    const bool from_line = line_start && text.substr(i, 5) == "From ";
    if (literal && !from_line) {
      put(std::string_view(&c, 1));
    } else {
      const char esc[3] = {'=', hex_digit(b >> 4), hex_digit(b)};
      put(std::string_view(esc, 3));
    }
    line_start = false;
    ++i;
  }
  if (out.empty() || !out.ends_with(crlf)) out += crlf;
  return out;
}

// ---------------------------------------------------------------- attachments

// RFC 2231 attr-char.
bool is_attr_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
}

// The file name a receiver sees: its last path component, without controls,
// valid UTF-8, at most 255 bytes (cut between characters); "attachment" when
// nothing is left.
std::string clean_filename(std::string_view input) {
  std::string_view base = input;
  const std::size_t slash = base.find_last_of("/\\");
  if (slash != std::string_view::npos) base.remove_prefix(slash + 1);
  std::string s;
  for (const char c : base) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b != 0x7F) s += c;
  }
  s = valid_utf8(s);
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (out.size() + n > 255) break;
    out.append(s, i, n);
    i += n;
  }
  const std::string_view t = trim(out);
  return t.empty() || t == "." || t == ".." ? std::string("attachment") : std::string(t);
}

std::string disposition_field(const std::string& filename) {
  field f("Content-Disposition");
  f.put(" attachment;");
  if (is_printable_ascii(filename)) {
    f.put(" filename=" + quote(filename));
    return std::move(f).done();
  }
  // RFC 2231 alone, in pieces of at most 60 characters (never cutting a %XX).
  // No ASCII filename="..." stand-in: readers that see both (Python's email
  // package among them) may take the stand-in.
  std::vector<std::string> pieces(1);
  for (const char c : filename) {
    std::string enc;
    if (is_attr_char(c)) {
      enc = std::string(1, c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      enc = {'%', hex_digit(b >> 4), hex_digit(b)};
    }
    if (pieces.back().size() + enc.size() > 60) pieces.emplace_back();
    pieces.back() += enc;
  }
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    std::string p = pieces.size() == 1 ? " filename*=" : " filename*" + std::to_string(k) + "*=";
    if (k == 0) p += "UTF-8''";
    p += pieces[k];
    if (k + 1 < pieces.size()) p += ';';
    f.put(p);
  }
  return std::move(f).done();
}

// A content type as given when it looks like one ("type/subtype" or
// "type/subtype; params" in printable ASCII); application/octet-stream otherwise.
std::string clean_content_type(std::string_view input) {
  const std::string s = header_text(input);
  const std::string_view t = trim(s);
  const std::size_t slash = t.find('/');
  if (t.empty() || t.size() > 200 || !is_printable_ascii(t) || slash == 0 ||
      slash == std::string_view::npos)
    return "application/octet-stream";
  for (std::size_t i = 0; i < slash; ++i)
    if (!is_token_char(t[i])) return "application/octet-stream";
  std::size_t end = slash + 1;
  while (end < t.size() && is_token_char(t[end])) ++end;
  const std::string_view params = trim(t.substr(end));
  if (end == slash + 1 || (!params.empty() && params.front() != ';'))
    return "application/octet-stream";
  return std::string(t);
}

std::string attachment_part(const mail_attachment& a) {
  std::string part;
  field ct("Content-Type");
  put_plain(ct, clean_content_type(a.content_type));
  part += std::move(ct).done();
  part += "Content-Transfer-Encoding: base64\r\n";
  part += disposition_field(clean_filename(a.filename));
  part += crlf;
  part += base64_lines(a.data);
  return part;
}

// ---------------------------------------------------------------- boundary

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ULL) {
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// "=_herald_<16 hex>": "=_" cannot occur in quoted-printable or base64 text,
// and the candidate is still checked against everything the parts hold. It
// depends on the message id and date only, so a message composes the same way
// twice.
std::string pick_boundary(const mail_message& m, const std::vector<std::string>& parts) {
  const std::uint64_t seed =
      fnv1a(std::to_string(m.date.time_since_epoch().count()), fnv1a(m.message_id));
  for (std::uint64_t attempt = 0;; ++attempt) {
    std::uint64_t h = fnv1a(std::to_string(attempt), seed);
    std::string b = "=_herald_";
    for (int k = 15; k >= 0; --k) b += hex_digit(static_cast<unsigned>(h >> (4 * k)));
    bool clash = false;
    for (const auto& p : parts)
      if (p.find(b) != std::string::npos) clash = true;
    if (!clash) return b;
  }
}

// Fields the composer writes itself (and any Content-*), or that would change
// who gets the message: extra headers by these names are dropped.
bool reserved_field(std::string_view name) {
  static constexpr std::array<std::string_view, 13> names{
      "Date",        "From",        "To",             "Cc",           "Bcc",
      "Sender",      "Subject",     "Message-ID",     "In-Reply-To",  "References",
      "Auto-Submitted", "MIME-Version", "Return-Path"};
  for (const auto n : names)
    if (iequals(n, name)) return true;
  return name.size() >= 8 && iequals(name.substr(0, 8), "Content-");
}

}  // namespace

std::string encode_header_value(std::string_view text) {
  const std::string v = header_text(text);
  if (needs_no_encoding(v)) return v;
  std::string out;
  for (const auto& w : encoded_words(v, encoded_word_max)) {
    if (!out.empty()) out += "\r\n ";
    out += w;
  }
  return out;
}

std::string compose(const mail_message& m) {
  std::string out;
  out += "Date: " + rfc5322_date(m.date) + "\r\n";
  {
    field f("From");
    const std::string from = header_text(m.from);
    put_mailbox(f, from, mailbox_address(from));
    out += std::move(f).done();
  }
  {
    field f("To");
    bool any = false;
    for (const auto& input : m.to) {
      const std::string to = header_text(input);
      const std::string addr = mailbox_address(to);
      // One with no address is not written: a run of them would be a line
      // with no place to fold.
      if (addr.empty()) continue;
      if (any) f.put(",");
      put_mailbox(f, to, addr);
      any = true;
    }
    if (!any) f.put(" undisclosed-recipients:;");
    out += std::move(f).done();
  }
  {
    field f("Subject");
    put_unstructured(f, header_text(m.subject));
    out += std::move(f).done();
  }
  if (const std::string id = msg_id(m.message_id); !id.empty())
    out += "Message-ID: <" + id + ">\r\n";
  if (const std::string thread = msg_id(m.thread_id); !thread.empty()) {
    out += "In-Reply-To: <" + thread + ">\r\n";
    out += "References: <" + thread + ">\r\n";
  }
  out += "Auto-Submitted: auto-generated\r\n";
  out += "MIME-Version: 1.0\r\n";
  for (const auto& [raw_name, raw_value] : m.headers) {
    std::string name;
    for (const char c : raw_name)
      if (is_token_char(c)) name += c;
    if (name.empty() || name.size() > 76 || reserved_field(name)) continue;
    field f(name);
    put_unstructured(f, trim(header_text(raw_value)));
    out += std::move(f).done();
  }

  const std::string text_headers =
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n";
  const std::string body = quoted_printable(valid_utf8(m.body));
  if (m.attachments.empty()) {
    out += text_headers;
    out += crlf;
    out += body;
    return out;
  }

  std::vector<std::string> parts;
  parts.reserve(m.attachments.size() + 1);
  parts.push_back(text_headers + "\r\n" + body);
  for (const auto& a : m.attachments) parts.push_back(attachment_part(a));
  const std::string boundary = pick_boundary(m, parts);

  out += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n";
  out += crlf;
  out += "This is a multi-part message in MIME format.\r\n";
  for (const auto& p : parts) {
    // The CRLF before "--" belongs to the delimiter; each part ends in its own
    // CRLF, so its last line break survives.
    out += "\r\n--" + boundary + "\r\n";
    out += p;
  }
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace herald::notifiers
