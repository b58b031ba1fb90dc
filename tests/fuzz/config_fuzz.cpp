// libFuzzer target for the config parser: any text gives a config or a config_error that
// names file:line:col, never another exception or a crash.
#include "config/config.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

namespace {

void fail(const char* what) {
  std::fprintf(stderr, "invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // `file:` secrets read files; a device would only measure how fast it streams zeros.
  for (std::string_view device : {"/dev/", "/proc/", "/sys/"})
    if (text.find(device) != std::string_view::npos) return -1;  // not added to the corpus
  try {
    (void)herald::config::parse(text, "fuzz.toml");
  } catch (const herald::config::config_error& e) {
    if (e.diagnostics().empty()) fail("config_error without diagnostics");
    for (const auto& d : e.diagnostics())
      if (d.file != "fuzz.toml" || d.line < 1 || d.column < 1 || d.message.empty())
        fail("config_error diagnostic without file:line:col or message");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parse threw something other than config_error: %s\n", e.what());
    std::abort();
  } catch (...) {
    fail("parse threw a non-std exception");
  }
  return 0;
}
