// Mail messages (RFC 5322 + MIME), composed as text for libcurl's SMTP upload.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/build.hpp"

namespace herald::notifiers {

struct mail_attachment {
  std::string filename;  // "compile.log"
  std::string content_type = "text/plain; charset=utf-8";
  std::string data;
};

struct mail_message {
  std::string from;                // "herald <ci@example.org>" or "ci@example.org"
  std::vector<std::string> to;     // addresses
  std::string subject;             // UTF-8; encoded per RFC 2047 when not plain ASCII
  std::string body;                // UTF-8 text
  std::string message_id;          // without <>; e.g. "herald.linux.7.finished@example.org"
  // Threading per builder and branch: In-Reply-To/References to this id (without <>).
  std::string thread_id;
  core::time_point date{};
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. X-Herald-Builder
  std::vector<mail_attachment> attachments;
};

// The whole message with CRLF line ends: Date, From, To, Subject, Message-ID,
// In-Reply-To/References, Auto-Submitted: auto-generated, MIME-Version, and a
// multipart/mixed body when there are attachments. Header values never carry
// CR/LF/NUL from their inputs.
std::string compose(const mail_message& m);

// RFC 2047 encoded-word form of a header value ("=?UTF-8?B?...?=", folded),
// or the text itself when it is printable ASCII.
std::string encode_header_value(std::string_view text);

}  // namespace herald::notifiers
