// The committed generated codecs must be exactly what scripts/gen_protocol.py produces from the
// schemas: regenerates into a temporary directory and compares every file byte for byte.
// Skipped (with a warning) when ../shared/kafka-protocol is absent, as it is outside the repo.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> read_tree(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    files[fs::relative(entry.path(), root).generic_string()] = text.str();
  }
  return files;
}

}  // namespace

TEST_CASE("generated_codecs_match_a_fresh_run_of_the_generator", "[generated][regen]") {
  const fs::path source = FLOE_SOURCE_DIR;
  const fs::path schemas = source / ".." / "shared" / "kafka-protocol" / "schemas";
  if (!fs::is_directory(schemas)) {
    WARN("skipped: " << schemas.string() << " not found");
    SUCCEED();
    return;
  }
  const fs::path out = fs::temp_directory_path() / ("floe-regen-" + std::to_string(::getpid()));
  fs::remove_all(out);
  const std::string cmd = "python3 '" + (source / "scripts" / "gen_protocol.py").string() + "' --schemas '" +
                          schemas.string() + "' --out '" + out.string() + "' > /dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const auto fresh = read_tree(out);
  const auto committed = read_tree(source / "src" / "protocol" / "generated");
  fs::remove_all(out);
  REQUIRE(fresh.size() > 100);
  for (const auto& [name, text] : fresh) {
    INFO(name << ": run scripts/gen_protocol.py and commit the result");
    auto it = committed.find(name);
    REQUIRE(it != committed.end());
    CHECK(it->second == text);
  }
  for (const auto& [name, text] : committed) {
    INFO(name << " is not produced by the generator any more");
    CHECK(fresh.count(name) == 1);
  }
}
