// One delivery as the outbox stores it. It holds no secret: the sender adds the
// reporter's URL, token and credentials only when it makes the attempt.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace herald::notifiers {

struct request {
  // HTTP: method, a path appended to the reporter's URL (may be empty), headers
  // (no credentials), body. Mail: `body` is the whole RFC 5322 message.
  std::string method = "POST";
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string mail_from;               // mail: envelope sender
  std::vector<std::string> mail_to;    // mail: envelope recipients
};

// A request, ready for the outbox.
struct planned {
  std::string id;   // stable and unique: "<reporter>/<builder>/<number>/<kind>[/<part>]"
  std::string key;  // status APIs: "<target>|<commit>|<context>"; the latest seq wins. Else empty.
  request req;
  std::string summary;  // for the log: "github status success for linux#7 on abc123" (no secrets)
};

}  // namespace herald::notifiers
