// What the chat core needs from a chat network, and what it gets back.
// IRC wire details stay behind this line (bot/irc/ implements it).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace herald::bot {

// Who sent a message. `account` is the services account when the network told
// us (empty otherwise); `user` and `host` may be empty on some networks.
struct sender {
  std::string nick;
  std::string user;
  std::string host;
  std::string account;
};

struct incoming_message {
  std::string channel;  // empty for a private message
  sender from;
  std::string text;     // plain text, CTCP framing removed
  // The sender is an operator (or higher) of `channel`, as the network says.
  bool channel_operator = false;
};

enum class priority { reply, notification };

struct outgoing {
  std::string target;  // channel name or nick
  std::string text;    // any text: the transport removes CR, LF, NUL and splits long lines
  // Stable identity of a notification ("linux#12/finished/#builds"); empty for
  // replies. The transport never delivers the same id twice once confirmed.
  std::string id;
  priority prio = priority::reply;
};

class transport {
 public:
  virtual ~transport() = default;
  virtual std::string current_nick() const = 0;
  virtual void send(outgoing msg) = 0;
  virtual void join(const std::string& channel, const std::string& key) = 0;
  virtual void part(const std::string& channel, const std::string& reason) = 0;
  // Channels we are in now (joined and not parted, kicked or disconnected).
  virtual std::vector<std::string> joined_channels() const { return {}; }
};

// Callbacks a transport makes into the chat core, all on the event-loop thread.
struct transport_events {
  std::function<void(const incoming_message&)> on_message;
  // The server confirmed it has processed every line of the notification `id`.
  std::function<void(const std::string& id)> on_delivered;
  // The notification `id` was dropped because the queue was full.
  std::function<void(const std::string& id)> on_dropped;
  // Registered (001 received) and channels joined/being joined.
  std::function<void()> on_connected;
};

}  // namespace herald::bot
