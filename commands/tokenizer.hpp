// Shell-style splitting of a command line: spaces separate words, '...' and
// "..." group them, backslash escapes. Nothing is expanded or executed.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace herald::commands {

class tokenize_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws tokenize_error on an unclosed quote or a trailing backslash.
std::vector<std::string> tokenize(std::string_view text);

}  // namespace herald::commands
