#include "notifiers/mail.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::notifiers {
namespace {

using namespace std::chrono;

// ------------------------------------------------------------ small decoders

std::string b64decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    if (c == '=') break;
    const int v = val(c);
    if (v < 0) continue;  // line breaks
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string qp_decode(std::string_view in) {
  auto hex = [](char c) { return c <= '9' ? c - '0' : c - 'A' + 10; };
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=') {
      if (in.substr(i, 3) == "=\r\n") {
        i += 2;
        continue;
      }
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

std::vector<std::string> split(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  std::size_t i = 0;
  for (;;) {
    const std::size_t j = s.find(sep, i);
    if (j == std::string_view::npos) {
      out.emplace_back(s.substr(i));
      return out;
    }
    out.emplace_back(s.substr(i, j - i));
    i = j + sep.size();
  }
}

struct parsed {
  std::vector<std::pair<std::string, std::string>> headers;  // unfolded, raw
  std::vector<std::string> raw_header_lines;
  std::string body;

  std::optional<std::string> get(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (n == name) return v;
    return std::nullopt;
  }
  int count(std::string_view name) const {
    int k = 0;
    for (const auto& h : headers) k += h.first == name;
    return k;
  }
};

parsed parse(std::string_view msg) {
  parsed p;
  const std::size_t end = msg.find("\r\n\r\n");
  EXPECT_NE(end, std::string_view::npos);
  p.body = std::string(msg.substr(end + 4));
  for (const auto& line : split(msg.substr(0, end), "\r\n")) {
    p.raw_header_lines.push_back(line);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      EXPECT_FALSE(p.headers.empty());
      p.headers.back().second += line;  // unfolding: drop the CRLF only
    } else {
      const std::size_t colon = line.find(':');
      EXPECT_NE(colon, std::string::npos) << line;
      std::string value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      p.headers.emplace_back(line.substr(0, colon), value);
    }
  }
  return p;
}

// RFC 2047 decoding of an unfolded value: whitespace between encoded-words
// does not count.
std::string decode_2047(std::string_view v, std::vector<std::string>* words = nullptr) {
  std::string out;
  bool last_was_word = false;
  std::size_t i = 0;
  while (i < v.size()) {
    std::size_t ws = i;
    while (ws < v.size() && (v[ws] == ' ' || v[ws] == '\t')) ++ws;
    if (v.substr(ws, 10) == "=?UTF-8?B?") {
      const std::size_t end = v.find("?=", ws + 10);
      EXPECT_NE(end, std::string_view::npos);
      if (!last_was_word) out += v.substr(i, ws - i);
      const std::string word(v.substr(ws, end + 2 - ws));
      if (words) words->push_back(word);
      out += b64decode(v.substr(ws + 10, end - ws - 10));
      i = end + 2;
      last_was_word = true;
    } else {
      std::size_t j = ws;
      while (j < v.size() && v[j] != ' ' && v[j] != '\t') ++j;
      out += v.substr(i, j - i);
      i = j;
      last_was_word = false;
    }
  }
  return out;
}

void expect_sane_lines(const std::string& msg) {
  // Every line ends in CRLF; no bare CR or LF; no line over 998 octets.
  ASSERT_TRUE(msg.ends_with("\r\n"));
  for (std::size_t i = 0; i < msg.size(); ++i) {
    if (msg[i] == '\r') {
      ASSERT_TRUE(i + 1 < msg.size() && msg[i + 1] == '\n') << "bare CR at " << i;
    } else if (msg[i] == '\n') {
      ASSERT_TRUE(i > 0 && msg[i - 1] == '\r') << "bare LF at " << i;
    } else if (msg[i] == '\0') {
      ADD_FAILURE() << "NUL at " << i;
    }
  }
  for (const auto& line : split(msg, "\r\n")) EXPECT_LE(line.size(), 998u);
}

struct mime_part {
  parsed p;
  std::string decoded;
};

std::vector<mime_part> mime_parts(const std::string& msg, std::string* boundary_out = nullptr) {
  const parsed top = parse(msg);
  const auto ct = top.get("Content-Type");
  EXPECT_TRUE(ct.has_value());
  const std::size_t b = ct->find("boundary=\"");
  EXPECT_NE(b, std::string::npos);
  const std::string boundary = ct->substr(b + 10, ct->find('"', b + 10) - b - 10);
  if (boundary_out) *boundary_out = boundary;
  std::vector<mime_part> out;
  auto pieces = split(top.body, "\r\n--" + boundary);
  EXPECT_GE(pieces.size(), 3u);
  EXPECT_TRUE(pieces.back().starts_with("--\r\n")) << pieces.back();
  for (std::size_t k = 1; k + 1 < pieces.size(); ++k) {
    EXPECT_TRUE(pieces[k].starts_with("\r\n"));
    mime_part mp;
    mp.p = parse(std::string_view(pieces[k]).substr(2));
    const auto cte = mp.p.get("Content-Transfer-Encoding").value_or("");
    mp.decoded = cte == "base64" ? b64decode(mp.p.body) : qp_decode(mp.p.body);
    out.push_back(std::move(mp));
  }
  return out;
}

mail_message basic() {
  mail_message m;
  m.from = "herald <ci@example.org>";
  m.to = {"dev@example.org", "Ops Team <ops@example.org>"};
  m.subject = "Build #7 of linux failed";
  m.body = "The build failed.\nSee the log.\n";
  m.message_id = "herald.linux.7.finished@example.org";
  m.thread_id = "herald.linux.main@example.org";
  m.date = sys_days{2024y / March / 5} + 14h + 3min + 9s;
  m.headers = {{"X-Herald-Builder", "linux"}};
  return m;
}

// ------------------------------------------------------------------ tests

TEST(Mail, ExactHeadersAndBody) {
  EXPECT_EQ(compose(basic()),
            "Date: Tue, 05 Mar 2024 14:03:09 +0000\r\n"
            "From: herald <ci@example.org>\r\n"
            "To: dev@example.org, Ops Team <ops@example.org>\r\n"
            "Subject: Build #7 of linux failed\r\n"
            "Message-ID: <herald.linux.7.finished@example.org>\r\n"
            "In-Reply-To: <herald.linux.main@example.org>\r\n"
            "References: <herald.linux.main@example.org>\r\n"
            "Auto-Submitted: auto-generated\r\n"
            "MIME-Version: 1.0\r\n"
            "X-Herald-Builder: linux\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n"
            "\r\n"
            "The build failed.\r\n"
            "See the log.\r\n");
}

TEST(Mail, NoThreadNoRecipients) {
  mail_message m = basic();
  m.thread_id.clear();
  m.to.clear();
  m.date = sys_days{1999y / December / 31} + 23h + 59min + 59s + 999ms;
  const parsed p = parse(compose(m));
  EXPECT_EQ(p.get("Date"), "Fri, 31 Dec 1999 23:59:59 +0000");
  EXPECT_EQ(p.get("To"), "undisclosed-recipients:;");
  EXPECT_EQ(p.count("In-Reply-To"), 0);
  EXPECT_EQ(p.count("References"), 0);
}

TEST(Mail, DisplayNamesQuotedOrEncoded) {
  mail_message m = basic();
  m.from = "Herald, CI <ci@example.org>";
  m.to = {"\"Ünïcode Person\" <u@example.org>", "plain@example.org"};
  const parsed p = parse(compose(m));
  EXPECT_EQ(p.get("From"), "\"Herald, CI\" <ci@example.org>");
  const std::string to = *p.get("To");
  EXPECT_TRUE(to.starts_with("=?UTF-8?B?")) << to;
  EXPECT_TRUE(to.ends_with("<u@example.org>, plain@example.org")) << to;
  EXPECT_EQ(decode_2047(to.substr(0, to.find(" <"))), "Ünïcode Person");
}

TEST(Mail, EncodedSubjectRoundTrip) {
  mail_message m = basic();
  m.subject = "Build #7 ✗ failed on ünïcödé branch 日本語 🚀";
  const std::string msg = compose(m);
  const parsed p = parse(msg);
  const std::string subject = *p.get("Subject");
  EXPECT_TRUE(subject.starts_with("=?UTF-8?B?")) << subject;
  EXPECT_EQ(decode_2047(subject), m.subject);

  const std::string v = encode_header_value(m.subject);
  EXPECT_TRUE(v.starts_with("=?UTF-8?B?"));
  std::string unfolded;
  for (const auto& line : split(v, "\r\n")) unfolded += line;
  EXPECT_EQ(decode_2047(unfolded), m.subject);
  for (const auto& line : split(v, "\r\n")) EXPECT_LE(line.size(), 76u);

  EXPECT_EQ(encode_header_value("plain ASCII subject"), "plain ASCII subject");
  EXPECT_EQ(encode_header_value("a\r\nBcc: x"), "a Bcc: x");
  // Text that looks like an encoded-word is encoded, so it reads as typed.
  const std::string tricky = "=?UTF-8?B?aGk=?=";
  EXPECT_NE(encode_header_value(tricky), tricky);
  EXPECT_EQ(decode_2047(encode_header_value(tricky)), tricky);
}

TEST(Mail, LongUtf8SubjectFoldsBetweenCharacters) {
  mail_message m = basic();
  std::string subject;
  const std::vector<std::string> pieces = {"a", "é", "✗", "🚀", "日本", " ", "ß"};
  for (int i = 0; i < 120; ++i) subject += pieces[static_cast<std::size_t>(i * 7 + i / 3) % pieces.size()];
  m.subject = subject;
  const std::string msg = compose(m);
  expect_sane_lines(msg);
  const parsed p = parse(msg);
  bool in_subject = false;
  int subject_lines = 0;
  for (const auto& line : p.raw_header_lines) {
    if (line.starts_with("Subject:")) in_subject = true;
    else if (!line.starts_with(" ")) in_subject = false;
    if (in_subject) {
      ++subject_lines;
      EXPECT_LE(line.size(), 78u) << line;
    }
  }
  EXPECT_GT(subject_lines, 3);
  std::vector<std::string> words;
  EXPECT_EQ(decode_2047(*p.get("Subject"), &words), subject);
  ASSERT_GT(words.size(), 3u);
  for (const auto& w : words) {
    EXPECT_LE(w.size(), 75u) << w;
    EXPECT_TRUE(valid_utf8(b64decode(w.substr(10, w.size() - 12)))) << "split code point in " << w;
  }
}

TEST(Mail, LongAsciiSubjectFoldsAtSpaces) {
  mail_message m = basic();
  std::string subject;
  for (int i = 0; i < 40; ++i) subject += "word" + std::to_string(i) + " ";
  subject += "end";
  m.subject = subject;
  const parsed p = parse(compose(m));
  EXPECT_EQ(p.get("Subject"), subject);  // unfolding restores it exactly
  for (const auto& line : p.raw_header_lines) EXPECT_LE(line.size(), 78u) << line;
}

TEST(Mail, HostileInputsStayInTheirHeader) {
  mail_message m = basic();
  m.subject = "feature\r\nBcc: victim@example.org\r\n\r\nbody?\nX-Evil: 1\rY: 2";
  m.subject += std::string("\0Z", 2);
  m.from = "herald <ci@example.org>\r\nBcc: a@example.org";
  m.to = {"dev@example.org\r\nCc: b@example.org"};
  m.message_id = "id@example.org>\r\nBcc: c@example.org";
  m.headers = {{"X-Note\r\nBcc", "v\r\nBcc: d@example.org"},
               {"Bcc", "e@example.org"},
               {"Content-Type", "text/html"},
               {"X-\xC3\xA9t\xC3\xA9", "ok"}};
  const std::string msg = compose(m);
  expect_sane_lines(msg);
  const parsed p = parse(msg);
  for (const auto& [name, value] : p.headers) {
    EXPECT_NE(name, "Bcc");
    EXPECT_NE(name, "Cc");
    EXPECT_NE(name, "X-Evil");
    EXPECT_NE(name, "Y");
  }
  EXPECT_EQ(p.count("Subject"), 1);
  EXPECT_EQ(p.get("Subject"), "feature Bcc: victim@example.org body? X-Evil: 1 Y: 2Z");
  EXPECT_EQ(p.count("Content-Type"), 1);
  EXPECT_EQ(p.get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(p.get("X-NoteBcc"), "v Bcc: d@example.org");
  EXPECT_EQ(p.get("X-t"), "ok");  // non-token characters leave the name
  EXPECT_EQ(p.get("Message-ID"), "<id@example.orgBcc:c@example.org>");
  EXPECT_EQ(p.body, "The build failed.\r\nSee the log.\r\n");
}

TEST(Mail, BodyQuotedPrintableRoundTrip) {
  mail_message m = basic();
  m.body = "a=b trailing space \nFrom the start\ntab\t\r\nlone\rcr\n.dot\n" + std::string(300, 'x') +
           "\n" + "ünïcödé ✗ 🚀\n\xFF bad byte\n";
  const std::string msg = compose(m);
  expect_sane_lines(msg);
  const parsed p = parse(msg);
  for (const auto& line : split(p.body, "\r\n")) EXPECT_LE(line.size(), 76u) << line;
  EXPECT_NE(p.body.find("=46rom the start"), std::string::npos);
  EXPECT_EQ(qp_decode(p.body),
            "a=b trailing space \r\nFrom the start\r\ntab\t\r\nlone\r\ncr\r\n.dot\r\n" +
                std::string(300, 'x') + "\r\n" + "ünïcödé ✗ 🚀\r\n\xEF\xBF\xBD bad byte\r\n");
}

TEST(Mail, AttachmentsDecodeToTheSameBytes) {
  mail_message m = basic();
  std::string binary;
  for (int i = 0; i < 256; ++i) binary += static_cast<char>(i);
  std::string big;
  std::uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245u + 12345u;
    big += static_cast<char>(x >> 24);
  }
  m.attachments = {
      {"compile.log", "text/plain; charset=utf-8", "line 1\nline 2\r\n.\n"},
      {"bin/all-bytes.bin", "application/octet-stream", binary},
      {"журнал сборки — очень длинное имя файла для проверки продолжений RFC 2231.log",
       "text/plain\r\nBcc: x@example.org", big},
      {"", "", ""},
  };
  const std::string msg = compose(m);
  expect_sane_lines(msg);
  const auto parts = mime_parts(msg);
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_EQ(parts[0].p.get("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(parts[0].decoded, "The build failed.\r\nSee the log.\r\n");
  for (std::size_t k = 1; k < parts.size(); ++k) {
    EXPECT_EQ(parts[k].p.get("Content-Transfer-Encoding"), "base64");
    EXPECT_EQ(parts[k].decoded, m.attachments[k - 1].data) << k;
    for (const auto& line : split(parts[k].p.body, "\r\n")) EXPECT_LE(line.size(), 76u);
  }
  EXPECT_EQ(parts[1].p.get("Content-Disposition"), "attachment; filename=\"compile.log\"");
  EXPECT_EQ(parts[2].p.get("Content-Disposition"), "attachment; filename=\"all-bytes.bin\"");
  EXPECT_EQ(parts[2].p.get("Content-Type"), "application/octet-stream");
  EXPECT_EQ(parts[3].p.get("Content-Type"), "application/octet-stream");  // hostile type
  EXPECT_EQ(parts[4].p.get("Content-Disposition"), "attachment; filename=\"attachment\"");

  // RFC 2231: filename*0*=UTF-8''...; filename*1*=...; decode and join.
  const std::string disp = *parts[3].p.get("Content-Disposition");
  std::string joined;
  for (std::size_t pos = 0; (pos = disp.find("filename*", pos)) != std::string::npos;) {
    const std::size_t eq = disp.find('=', pos);
    std::size_t end = disp.find(';', eq);
    if (end == std::string::npos) end = disp.size();
    std::string v = disp.substr(eq + 1, end - eq - 1);
    if (v.starts_with("UTF-8''")) v.erase(0, 7);
    joined += v;
    pos = end;
  }
  std::string name;
  for (std::size_t i = 0; i < joined.size(); ++i) {
    if (joined[i] == '%') {
      name += static_cast<char>(std::stoi(joined.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      name += joined[i];
    }
  }
  EXPECT_EQ(name, m.attachments[2].filename);
  EXPECT_NE(disp.find("filename*1*="), std::string::npos) << disp;
  for (const auto& line : parse(msg).raw_header_lines) EXPECT_LE(line.size(), 78u);
}

TEST(Mail, NoLineOver998) {
  mail_message m = basic();
  m.subject = std::string(3000, 'S');                 // one ASCII "word"
  m.body = std::string(5000, 'b') + "\n" + std::string(5000, ' ');
  m.to = {std::string(2000, 'n') + " <" + std::string(1200, 'a') + "@example.org>"};
  m.headers = {{"X-Long", std::string(2000, 'v')}, {std::string(200, 'N'), "dropped"}};
  m.attachments = {{std::string(1000, 'f') + ".log", "text/plain", std::string(10000, 'd')}};
  const std::string msg = compose(m);
  expect_sane_lines(msg);
  const parsed p = parse(msg);
  EXPECT_EQ(decode_2047(*p.get("Subject")), m.subject);
  EXPECT_EQ(decode_2047(*p.get("X-Long")), std::string(2000, 'v'));
  EXPECT_EQ(p.count(std::string(200, 'N')), 0);
}

TEST(Mail, RecipientsWithoutAnAddressAreNotWritten) {
  mail_message m = basic();
  // Hundreds of them would be one line with nowhere to fold (found by fuzz_reporters).
  m.to.assign(600, " <, >");
  m.to.push_back("Dev <d\x01" "e\x7F" "v@example.org>");  // controls never reach the header
  m.to.push_back("  ");
  const std::string msg = compose(m);
  expect_sane_lines(msg);
  EXPECT_EQ(parse(msg).get("To"), "Dev <dev@example.org>");
  m.to = {"<>", ""};
  EXPECT_EQ(parse(compose(m)).get("To"), "undisclosed-recipients:;");
}

TEST(Mail, BoundaryNotInContent) {
  mail_message m = basic();
  m.attachments = {{"a.log", "text/plain", "data"}};
  std::string first;
  const std::string msg1 = compose(m);
  mime_parts(msg1, &first);
  EXPECT_TRUE(first.starts_with("=_herald_")) << first;
  EXPECT_EQ(compose(m), msg1);  // the same message composes the same way

  // Content holding the boundary the composer would choose: it picks another.
  m.attachments[0].filename = first + ".log";
  m.body = "--" + first + "\n" + first + "--\n";
  std::string second;
  const std::string msg2 = compose(m);
  const auto parts = mime_parts(msg2, &second);
  EXPECT_NE(second, first);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].decoded, "--" + first + "\r\n" + first + "--\r\n");
  EXPECT_EQ(parts[1].p.get("Content-Disposition"), "attachment; filename=\"" + first + ".log\"");
  // The boundary appears only in the header parameter and the 3 delimiters.
  std::size_t n = 0;
  for (std::size_t pos = 0; (pos = msg2.find(second, pos)) != std::string::npos; pos += second.size())
    ++n;
  EXPECT_EQ(n, 4u);
}

}  // namespace
}  // namespace herald::notifiers
