// Links to herald's pages for builds and builders, from the [herald] url base.
// Chat messages and push reporters print the same ones.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace herald::core {

// "<base>/#/builders/<builder>/builds/<number>"; empty when `base` is.
std::string build_url(std::string_view base, std::string_view builder, std::int64_t number);
// "<base>/#/builders/<builder>"; empty when `base` is.
std::string builder_url(std::string_view base, std::string_view builder);

}  // namespace herald::core
