// Finds the moto_server the S3 tests run against: the one named by FLOE_TEST_S3_* (started by
// .ci/run through scripts/start-moto.sh), or else one this test process starts itself through the
// same script and kills at exit. Signature checking is on in both cases.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "objectstore/s3_store.h"

namespace floe::objectstore::testing {

struct MotoEnv {
  std::string endpoint, region, bucket, access_key, secret_key;
  int own_pid = 0;  // nonzero when this process started the server
  bool not_installed = false;  // start-moto.sh exit 3: moto_server or boto3 missing on this machine

  static const MotoEnv& get() {
    static MotoEnv env = start();
    return env;
  }

  S3Options options(const std::string& secret_override = "") const {
    S3Options o;
    o.bucket = bucket;
    o.region = region;
    o.endpoint = endpoint;
    o.path_style = true;
    o.credentials = Credentials{access_key, secret_override.empty() ? secret_key : secret_override, ""};
    o.multipart = MultipartPolicy{6ull << 20, 5ull << 20, 4};
    return o;
  }

 private:
  static std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
  }

  static void kill_own() {
    int pid = get().own_pid;
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 40 && ::kill(pid, 0) == 0; ++i) ::usleep(50000);  // bounded: 2 s
    ::kill(pid, SIGKILL);
  }

  static MotoEnv start() {
    MotoEnv e;
    if (!env("FLOE_TEST_S3_ENDPOINT").empty()) {
      e.endpoint = env("FLOE_TEST_S3_ENDPOINT");
      e.region = env("FLOE_TEST_S3_REGION");
      e.bucket = env("FLOE_TEST_S3_BUCKET");
      e.access_key = env("FLOE_TEST_S3_ACCESS_KEY");
      e.secret_key = env("FLOE_TEST_S3_SECRET_KEY");
      if (e.region.empty()) e.region = "us-east-1";
      return e;
    }
    std::string cmd = std::string(FLOE_SOURCE_DIR) + "/scripts/start-moto.sh";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return e;
    std::map<std::string, std::string> vars;
    char line[1024];
    while (std::fgets(line, sizeof line, p)) {
      std::string s(line);
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
      if (s.rfind("export ", 0) != 0) continue;
      size_t eq = s.find('=');
      if (eq == std::string::npos) continue;
      vars[s.substr(7, eq - 7)] = s.substr(eq + 1);
    }
    int status = ::pclose(p);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) e.not_installed = true;
    e.endpoint = vars["FLOE_TEST_S3_ENDPOINT"];
    e.region = vars["FLOE_TEST_S3_REGION"];
    e.bucket = vars["FLOE_TEST_S3_BUCKET"];
    e.access_key = vars["FLOE_TEST_S3_ACCESS_KEY"];
    e.secret_key = vars["FLOE_TEST_S3_SECRET_KEY"];
    e.own_pid = std::atoi(vars["FLOE_TEST_MOTO_PID"].c_str());
    std::atexit(&MotoEnv::kill_own);
    return e;
  }
};

}  // namespace floe::objectstore::testing
