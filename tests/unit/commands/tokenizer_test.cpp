#include "commands/tokenizer.hpp"

#include <gtest/gtest.h>

namespace herald::commands {
namespace {

using words = std::vector<std::string>;

TEST(Tokenizer, SplitsOnSpaces) { EXPECT_EQ(tokenize("  force  build quick "), (words{"force", "build", "quick"})); }

TEST(Tokenizer, QuotesGroupWords) {
  EXPECT_EQ(tokenize(R"(a "b c" 'd e' f"g h"i)"), (words{"a", "b c", "d e", "fg hi"}));
}

TEST(Tokenizer, EmptyQuotesMakeAnEmptyWord) { EXPECT_EQ(tokenize(R"(a "" b)"), (words{"a", "", "b"})); }

TEST(Tokenizer, BackslashEscapes) {
  EXPECT_EQ(tokenize(R"(a\ b "c\"d" 'e\f')"), (words{"a b", "c\"d", "e\\f"}));
}

TEST(Tokenizer, ShellCharactersAreData) {
  EXPECT_EQ(tokenize(R"(x=$(rm -rf /);`id` *)"), (words{"x=$(rm", "-rf", "/);`id`", "*"}));
}

TEST(Tokenizer, UnclosedQuoteIsAnError) {
  EXPECT_THROW(tokenize(R"(force "build)"), tokenize_error);
  EXPECT_THROW(tokenize("force 'build"), tokenize_error);
  EXPECT_THROW(tokenize("force \\"), tokenize_error);
}

}  // namespace
}  // namespace herald::commands
