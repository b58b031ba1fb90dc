// A secret value (token, password, webhook URL). Its text is only reachable
// through reveal(), so it cannot slip into a log or a stored record by accident.
#pragma once

#include <string>
#include <utility>

namespace herald::core {

class secret {
 public:
  secret() = default;
  explicit secret(std::string v) : value_(std::move(v)) {}
  const std::string& reveal() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }

 private:
  std::string value_;
};

}  // namespace herald::core
