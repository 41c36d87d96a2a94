#include "admin/cli.h"

#include <cstdio>
#include <cstring>
#include <string_view>

#include "floe/version.h"

namespace floe::admin {
namespace {
const char* kUsage =
    "floe — a Kafka-compatible streaming broker that keeps its data in object storage\n"
    "\n"
    "Usage:\n"
    "  floe serve [--config FILE] [--override key=value]...   run a broker/controller\n"
    "  floe --version                                          print the version\n"
    "  floe --help                                             print this help\n";
}  // namespace

int run_cli(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string_view verb = argv[1];
  if (verb == "--version" || verb == "version") {
    std::printf("floe %s\n", kVersion);
    return 0;
  }
  if (verb == "--help" || verb == "-h" || verb == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "floe: unknown command '%s'\n\n%s", argv[1], kUsage);
  return 2;
}

}  // namespace floe::admin
