#include "core/feed.hpp"

#include <exception>

namespace herald::core {

struct feed::subscription::state {
  std::weak_ptr<std::list<feed::entry>> list;
  std::list<feed::entry>::iterator it;
};

void feed::subscription::reset() {
  if (!state_) return;
  if (auto l = state_->list.lock()) l->erase(state_->it);
  state_.reset();
}

feed::feed(std::uint64_t last_seq, error_handler on_error)
    : seq_(last_seq), on_error_(std::move(on_error)), entries_(std::make_shared<std::list<entry>>()) {}

feed::subscription feed::subscribe(handler h) {
  entries_->push_back(entry{std::move(h)});
  subscription s;
  s.state_ = std::make_shared<subscription::state>(subscription::state{entries_, std::prev(entries_->end())});
  return s;
}

std::uint64_t feed::publish(event e) {
  auto& h = header_of(e);
  h.seq = ++seq_;
  if (h.time == time_point{}) h.time = clock::now();
  for (auto& sub : *entries_) {
    try {
      sub.h(e);
    } catch (const std::exception& ex) {
      if (on_error_) on_error_(ex.what());
    } catch (...) {
      if (on_error_) on_error_("unknown exception");
    }
  }
  return h.seq;
}

}  // namespace herald::core
