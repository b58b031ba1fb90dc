#include "core/links.hpp"

namespace herald::core {
namespace {

std::string with_slash(std::string_view base) {
  std::string out(base);
  if (out.back() != '/') out += '/';
  return out;
}

}  // namespace

std::string build_url(std::string_view base, std::string_view builder, std::int64_t number) {
  if (base.empty()) return {};
  return with_slash(base) + "#/builders/" + std::string(builder) + "/builds/" + std::to_string(number);
}

std::string builder_url(std::string_view base, std::string_view builder) {
  if (base.empty()) return {};
  return with_slash(base) + "#/builders/" + std::string(builder);
}

}  // namespace herald::core
