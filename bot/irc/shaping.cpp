// Formatting removal and burst planning; see shaping.hpp.
#include "bot/irc/shaping.hpp"

namespace herald::bot::irc {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Skips up to `max` characters matching `pred` from text[i]; returns the new position.
template <class Pred>
std::size_t skip(std::string_view text, std::size_t i, std::size_t max, Pred pred) {
  std::size_t n = 0;
  while (i < text.size() && n < max && pred(text[i])) {
    ++i;
    ++n;
  }
  return i;
}

}  // namespace

std::string strip_formatting(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '\x03' || c == '\x04') {
      bool hex = c == '\x04';
      std::size_t width = hex ? 6 : 2;
      auto pred = hex ? is_hex : is_digit;
      std::size_t j = skip(text, i + 1, width, pred);
      // A background only follows a foreground, and only when a digit follows the comma.
      if (j > i + 1 && j + 1 < text.size() && text[j] == ',' && pred(text[j + 1]))
        j = skip(text, j + 1, width, pred);
      i = j;
      continue;
    }
    if (c == '\x02' || c == '\x0f' || c == '\x16' || c == '\x1d' || c == '\x1f' || c == '\x1e' || c == '\x11') {
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  return out;
}

std::vector<std::size_t> plan_burst(const std::vector<burst_candidate>& queue, std::size_t budget,
                                    std::size_t max_scan) {
  std::vector<std::size_t> picked;
  if (queue.empty()) return picked;
  picked.push_back(0);
  const auto& first = queue[0];
  if (!first.combinable) return picked;
  std::size_t size = first.text.size();
  for (std::size_t i = 1; i < queue.size() && i < max_scan; ++i) {
    const auto& c = queue[i];
    if (c.target != first.target) continue;
    if (!c.combinable || c.command != first.command) break;
    std::size_t grown = size + burst_separator.size() + c.text.size();
    if (grown > budget) break;
    size = grown;
    picked.push_back(i);
  }
  return picked;
}

std::string join_burst(const std::vector<std::string_view>& texts) {
  std::string out;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (i) out += burst_separator;
    out += texts[i];
  }
  return out;
}

}  // namespace herald::bot::irc
