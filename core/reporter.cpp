#include "core/reporter.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace herald::core {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

constexpr std::array<std::string_view, 8> mode_names = {
    "failing", "passing", "warnings", "exception", "cancelled", "change", "problem", "all"};

constexpr std::array<std::string_view, 14> type_names = {
    "mail",  "http",       "github",  "gitlab", "bitbucket_cloud", "bitbucket_server", "gerrit",
    "slack", "mattermost", "discord", "teams",  "matrix",          "telegram",         "zulip"};

template <typename E, std::size_t N>
std::optional<E> find_name(const std::array<std::string_view, N>& names, std::string_view s) {
  for (std::size_t i = 0; i < N; ++i)
    if (iequals(names[i], s)) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace

std::optional<report_mode> parse_report_mode(std::string_view s) {
  return find_name<report_mode>(mode_names, s);
}
std::span<const std::string_view> report_mode_names() { return mode_names; }

std::optional<reporter_type> parse_reporter_type(std::string_view s) {
  return find_name<reporter_type>(type_names, s);
}
std::string_view reporter_type_name(reporter_type t) { return type_names.at(static_cast<std::size_t>(t)); }
std::span<const std::string_view> reporter_type_names() { return type_names; }

bool is_status_api(reporter_type t) {
  switch (t) {
    case reporter_type::github:
    case reporter_type::gitlab:
    case reporter_type::bitbucket_cloud:
    case reporter_type::bitbucket_server:
    case reporter_type::gerrit: return true;
    default: return false;
  }
}

}  // namespace herald::core
