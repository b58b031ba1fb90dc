#include "commands/tokenizer.hpp"

namespace herald::commands {

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == '\'') {
      if (c == '\'') quote = 0;
      else word += c;
      continue;
    }
    if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else if (c == '\\' && i + 1 < text.size() && (text[i + 1] == '"' || text[i + 1] == '\\')) {
        word += text[++i];
      } else {
        word += c;
      }
      continue;
    }
    if (c == ' ' || c == '\t') {
      if (in_word) out.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '\\') {
      if (i + 1 >= text.size()) throw tokenize_error("trailing backslash");
      word += text[++i];
    } else {
      word += c;
    }
  }
  if (quote) throw tokenize_error(std::string("unclosed ") + (quote == '"' ? "double" : "single") + " quote");
  if (in_word) out.push_back(std::move(word));
  return out;
}

}  // namespace herald::commands
