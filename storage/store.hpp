// Persistence: the interface the rest of herald sees. Reads happen at start-up;
// writes are queued and committed in batches off the event-loop thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/build.hpp"
#include "core/event.hpp"

namespace spdlog {
class logger;
}

namespace herald::storage {

using builder_history = core::builder_history;

// A chat announcement not yet confirmed by the chat server.
struct chat_message {
  std::string id;      // stable identity: builder#number/event/contact
  std::string target;  // channel or nick
  std::string text;
};

// A dangerous command someone used: who, as which account, where, what, when.
struct audit_entry {
  core::time_point time{};
  std::string command;
  std::string nick;
  std::string account;  // empty: not logged in
  std::string mask;     // nick!user@host
  std::string place;    // channel, or "private"
  std::string text;     // the whole command line
  std::string outcome;  // "ran" or "denied"
};

// A push reporter's delivery in the outbox: stored before its first attempt,
// removed once delivered or superseded, kept as a dead letter when it cannot be.
struct delivery {
  std::string id;        // stable and unique: reporter/builder/number/kind[/part]
  std::string reporter;  // the [[reporter]] name
  std::string key;       // status APIs: target|commit|context, the latest seq wins; else empty
  std::uint64_t seq = 0;  // feed seq of the reported event
  std::string request;   // the request as notifiers/ serialized it (never holds secrets)
  std::string summary;   // for logs and `herald outbox`
  int attempts = 0;
  core::time_point created{};
  core::time_point next_attempt{};
  std::string last_error;  // the latest failure, secret-free
  bool dead = false;
};

class store {
 public:
  virtual ~store() = default;

  // ---- reads (blocking; start-up and rare queries)
  virtual std::uint64_t last_seq() = 0;
  virtual builder_history history(const std::string& builder) = 0;
  // Builds left pending or running by the previous run, oldest first, with steps.
  virtual std::vector<core::build_record> unfinished_builds() = 0;
  virtual std::optional<core::build_record> load_build(const std::string& builder, std::int64_t number) = 0;
  virtual std::string load_log(const std::string& builder, std::int64_t number, int step) = 0;
  // Chat contact key -> its settings, as the chat core saved them (opaque text).
  virtual std::map<std::string, std::string> contacts() = 0;
  // Announcements left unconfirmed by the previous run, oldest first.
  virtual std::vector<chat_message> chat_outbox() = 0;

  // Outbox deliveries: pending ones oldest first, or the dead letters newest first.
  virtual std::vector<delivery> deliveries(bool dead) = 0;
  // The same, but with every `request` left empty: the outbox reads requests
  // back when their turn comes, so a large backlog costs memory only for what
  // is about to be sent; `herald outbox` shows no requests.
  virtual std::vector<delivery> deliveries_without_requests(bool dead) = 0;

  // ---- writes (queued; committed in batches)
  virtual void record(const core::event& e) = 0;
  virtual void save_contact(const std::string& key, const std::string& state) = 0;
  virtual void record_audit(const audit_entry& a) = 0;
  // Newest first.
  virtual std::vector<audit_entry> audit_log(std::size_t limit) = 0;
  virtual void add_chat_message(const chat_message& m) = 0;
  virtual void remove_chat_message(const std::string& id) = 0;
  // Stores `d` (ignored when its id is already stored) and calls `committed` on
  // the writer thread once the batch holding it is committed. The writer reads
  // `*d` until then without copying it: the caller must not change it before.
  virtual void add_delivery(std::shared_ptr<const delivery> d, std::function<void()> committed) = 0;
  virtual void update_delivery(const std::string& id, int attempts, core::time_point next_attempt,
                               const std::string& last_error) = 0;
  virtual void remove_delivery(const std::string& id) = 0;
  // A state for a status key was delivered: every older one for that key goes,
  // dead letters included, so that none can be revived over it.
  virtual void remove_superseded(const std::string& key, std::uint64_t seq) = 0;
  virtual void dead_letter(const std::string& id, int attempts, const std::string& reason) = 0;
  // Moves dead letters (all when `id` is empty) back to pending; returns how many.
  // A herald running on the same database takes them up (take_revived); one
  // that is not finds them pending at its next start.
  virtual std::size_t revive(const std::string& id) = 0;
  // Deliveries revived by another process (`herald outbox --revive`) since the
  // last call: queued as a write, they become plain pending deliveries, and
  // `found` gets them on the writer thread after the commit (it is not called
  // when there are none). Cheap while the database is unchanged (SQLite's
  // data_version); the first call looks in any case.
  virtual void take_revived(std::function<void(std::vector<delivery>)> found) = 0;
  // The stored requests of these deliveries, read on the writer thread after
  // the writes queued before this call are committed. `found` gets
  // (id, request) for each one still stored, in no particular order, on the
  // writer thread (it is called even when none is).
  using requests_found = std::function<void(std::vector<std::pair<std::string, std::string>>)>;
  virtual void load_requests(std::vector<std::string> ids, requests_found found) = 0;
  // Blocks until every queued write is committed.
  virtual void flush() = 0;
};

// Opens (creating and migrating as needed) the SQLite database at `file`.
std::unique_ptr<store> open_sqlite(const std::filesystem::path& file, std::shared_ptr<spdlog::logger> log);

// The schema version this build of herald writes.
int schema_version();

}  // namespace herald::storage
