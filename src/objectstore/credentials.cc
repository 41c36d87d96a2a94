#include "objectstore/credentials.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace floe::objectstore {

namespace {
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}
}  // namespace

Credentials parse_credentials_file(const std::string& text, const std::string& profile) {
  Credentials c;
  std::istringstream in(text);
  std::string line;
  bool in_profile = false;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      std::string name = trim(line.substr(1, line.size() - 2));
      if (name.rfind("profile ", 0) == 0) name = trim(name.substr(8));
      in_profile = name == profile;
      continue;
    }
    if (!in_profile) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key_id = value;
    if (key == "aws_secret_access_key") c.secret_access_key = value;
    if (key == "aws_session_token") c.session_token = value;
  }
  return c;
}

Result<ResolvedCredentials> resolve_credentials(const Credentials& explicit_credentials) {
  if (!explicit_credentials.empty()) return ResolvedCredentials{explicit_credentials, "bucket URI"};
  Credentials from_env{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};
  if (!from_env.empty()) return ResolvedCredentials{from_env, "environment"};
  std::string path = env("AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty() && !env("HOME").empty()) path = env("HOME") + "/.aws/credentials";
  std::string profile = env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  if (!path.empty()) {
    std::ifstream f(path);
    if (f) {
      std::stringstream ss;
      ss << f.rdbuf();
      Credentials c = parse_credentials_file(ss.str(), profile);
      if (!c.empty()) return ResolvedCredentials{c, path + " [" + profile + "]"};
    }
  }
  return Error(Errc::config,
               "no S3 credentials: set accessKey/secretKey in the bucket URI, AWS_ACCESS_KEY_ID and "
               "AWS_SECRET_ACCESS_KEY, or a [" + profile + "] profile in " + (path.empty() ? "~/.aws/credentials" : path));
}

std::string resolve_region(const std::string& explicit_region) {
  if (!explicit_region.empty()) return explicit_region;
  if (auto r = env("AWS_REGION"); !r.empty()) return r;
  if (auto r = env("AWS_DEFAULT_REGION"); !r.empty()) return r;
  return "us-east-1";
}

}  // namespace floe::objectstore
