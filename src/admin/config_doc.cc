#include "admin/config_doc.h"

#include "common/config.h"

namespace floe::admin {
namespace {

std::string default_text(const config::KeySpec& k) {
  if (!k.has_default) return "(unset)";
  if (k.default_value.empty()) return "(empty)";
  return std::string(k.default_value);
}

// Escapes text for roff: backslashes, minus signs, and a leading control character.
std::string roff(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else if (c == ',') out += ",\\:";  // an optional break: long lists must not overflow a line
    else out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

std::string markdown_cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

std::string render_text() {
  std::string out;
  for (const auto& k : config::all_keys()) {
    out += std::string(k.name) + "  (" + std::string(config::type_name(k.type)) + ", default " + default_text(k);
    std::string range = config::describe_range(k);
    if (!range.empty()) out += ", allowed " + range;
    out += ", used: " + std::string(config::use_name(k.use)) + ")\n    " + std::string(k.doc) + "\n";
  }
  return out;
}

std::string render_markdown() {
  std::string out =
      "| key | type | default | allowed | used | description |\n|---|---|---|---|---|---|\n";
  for (const auto& k : config::all_keys()) {
    std::string range = config::describe_range(k);
    out += "| `" + std::string(k.name) + "` | " + std::string(config::type_name(k.type)) + " | `" +
           markdown_cell(default_text(k)) + "` | " + markdown_cell(range) + " | " +
           std::string(config::use_name(k.use)) + " | " + markdown_cell(k.doc) + " |\n";
  }
  return out;
}

std::string render_man() {
  std::string out;
  for (const auto& k : config::all_keys()) {
    out += ".TP\n.B " + roff(k.name) + "\n";
    out += "(" + std::string(config::type_name(k.type)) + "; default \\fB" + roff(default_text(k)) + "\\fR";
    std::string range = config::describe_range(k);
    if (!range.empty()) out += "; " + roff(range);
    switch (k.use) {
      case config::Use::active: break;
      case config::Use::not_yet: out += "; not used yet"; break;
      case config::Use::ignored: out += "; accepted and ignored"; break;
    }
    out += ")\n" + roff(k.doc) + "\n";
  }
  return out;
}

}  // namespace

std::optional<DocFormat> parse_doc_format(std::string_view name) {
  if (name == "text") return DocFormat::text;
  if (name == "markdown") return DocFormat::markdown;
  if (name == "man") return DocFormat::man;
  return std::nullopt;
}

std::string render_config_keys(DocFormat format) {
  switch (format) {
    case DocFormat::text: return render_text();
    case DocFormat::markdown: return render_markdown();
    case DocFormat::man: return render_man();
  }
  return {};
}

}  // namespace floe::admin
