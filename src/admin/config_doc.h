// Renders the configuration key registry (common/config.h) as documentation: plain text for
// `floe config keys`, a Markdown table for README.md, and man(7) roff for man/floe.1's
// CONFIGURATION section. The registry is the single source; these are views of it.
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace floe::admin {

enum class DocFormat { text, markdown, man };

std::optional<DocFormat> parse_doc_format(std::string_view name);  // "text" | "markdown" | "man"
std::string render_config_keys(DocFormat format);

}  // namespace floe::admin
