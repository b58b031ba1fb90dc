// libFuzzer target for the command tokenizer: any chat text gives words or a tokenize_error,
// never another exception or a crash.
#include "commands/tokenizer.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace {

void fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

// Without quotes or backslashes, tokenizing is plain splitting on spaces and tabs.
std::vector<std::string> split_plain(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (c == ' ' || c == '\t') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bool plain = text.find_first_of("'\"\\") == std::string_view::npos;
  try {
    auto words = herald::commands::tokenize(text);
    if (plain && words != split_plain(text)) fail("tokenize: plain text not split on blanks");
  } catch (const herald::commands::tokenize_error&) {
    if (plain) fail("tokenize: error on text without quotes or backslashes");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenize threw something other than tokenize_error: %s\n", e.what());
    std::abort();
  } catch (...) {
    fail("tokenize threw a non-std exception");
  }
  return 0;
}
