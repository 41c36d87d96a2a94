// objectstore benchmark: upload and ranged-read throughput of the fs backend and of the S3
// backend against moto_server, with 1, 8 and 64 concurrent requests. The base of every ratio is
// the raw sequential file-write bandwidth of the same disk (1 MiB writes, one fsync at the end),
// measured in this run.
//
// Back-of-envelope: fs puts fsync each object, so with 4 MiB objects they should reach a large
// fraction of raw write bandwidth at c=8 (fsyncs overlap) and less at c=1. moto is a Python
// server: expect it, not floe, to bound the S3 figures (tens of MB/s).
// Bounded: fixed byte totals per configuration; moto is started through scripts/start-moto.sh
// (or FLOE_TEST_S3_* names a running one) and killed at the end. FLOE_BENCH_NO_S3=1 skips it.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>

#include "objectstore/blocking.h"
#include "objectstore/fs_store.h"
#include "objectstore/s3_store.h"

using namespace floe;
using namespace floe::objectstore;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

SharedBytes random_bytes(size_t n, uint64_t seed) {
  Bytes b(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(b.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return SharedBytes(std::move(b));
}

double raw_write_mb_per_s(const fs::path& dir, size_t total_bytes) {
  auto chunk = random_bytes(1 << 20, 1);
  fs::path p = dir / "raw-write.bin";
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 0;
  auto t = Clock::now();
  for (size_t done = 0; done < total_bytes; done += chunk.size()) {
    if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) break;
  }
  ::fsync(fd);
  double s = std::chrono::duration<double>(Clock::now() - t).count();
  ::close(fd);
  fs::remove(p);
  return static_cast<double>(total_bytes) / 1e6 / s;
}

// Runs count operations with at most window in flight; start(i, done) begins operation i.
template <typename Start>
double run_window(size_t count, size_t window, Start start, std::atomic<int>& errors) {
  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0, finished = 0;
  auto t = Clock::now();
  for (size_t i = 0; i < count; ++i) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    start(i, [&](bool ok) {
      if (!ok) ++errors;
      std::lock_guard lock(mu);
      --in_flight;
      ++finished;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return finished == count; });
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void bench_store(const char* name, ObjectStore& store, size_t object_bytes, size_t total_bytes, size_t read_bytes,
                 double raw_mb_s) {
  auto body = random_bytes(object_bytes, 2);
  size_t objects = total_bytes / object_bytes;
  for (size_t window : {1, 8, 64}) {
    std::string prefix = std::string("bench-c") + std::to_string(window) + "-";
    std::atomic<int> errors{0};
    double put_s = run_window(objects, window, [&](size_t i, auto done) {
      store.put(prefix + std::to_string(i), body, [done](Result<PutResult> r) { done(r.ok()); });
    }, errors);
    double put_mb_s = static_cast<double>(objects * object_bytes) / 1e6 / put_s;
    size_t reads = total_bytes / read_bytes;
    std::mt19937_64 rng(window);
    double get_s = run_window(reads, window, [&](size_t, auto done) {
      size_t obj = rng() % objects;
      uint64_t off = rng() % (object_bytes - read_bytes + 1);
      store.get(prefix + std::to_string(obj), ByteRange{off, read_bytes},
                [done, read_bytes](Result<GetResult> r) { done(r.ok() && r->body.size() == read_bytes); });
    }, errors);
    double get_mb_s = static_cast<double>(reads * read_bytes) / 1e6 / get_s;
    std::printf("objectstore %-4s c=%-2zu upload %8.1f MB/s (%.2fx raw write)   ranged read %8.1f MB/s (%.2fx)%s\n",
                name, window, put_mb_s, put_mb_s / raw_mb_s, get_mb_s, get_mb_s / raw_mb_s,
                errors.load() ? "  ERRORS" : "");
    std::fflush(stdout);
    std::vector<std::string> keys;
    for (size_t i = 0; i < objects; ++i) keys.push_back(prefix + std::to_string(i));
    (void)BlockingStore(store).delete_keys(keys);
  }
}

std::map<std::string, std::string> start_moto(int* pid) {
  std::map<std::string, std::string> vars;
  if (const char* e = std::getenv("FLOE_TEST_S3_ENDPOINT")) {
    for (const char* k : {"FLOE_TEST_S3_ENDPOINT", "FLOE_TEST_S3_REGION", "FLOE_TEST_S3_BUCKET",
                          "FLOE_TEST_S3_ACCESS_KEY", "FLOE_TEST_S3_SECRET_KEY"})
      vars[k] = std::getenv(k) ? std::getenv(k) : "";
    (void)e;
    return vars;
  }
  std::string src = std::getenv("FLOE_SOURCE_DIR") ? std::getenv("FLOE_SOURCE_DIR") : ".";
  FILE* p = ::popen((src + "/scripts/start-moto.sh --bucket floe-bench").c_str(), "r");
  if (!p) return vars;
  char line[1024];
  while (std::fgets(line, sizeof line, p)) {
    std::string s(line);
    while (!s.empty() && s.back() == '\n') s.pop_back();
    size_t eq = s.find('=');
    if (s.rfind("export ", 0) == 0 && eq != std::string::npos) vars[s.substr(7, eq - 7)] = s.substr(eq + 1);
  }
  ::pclose(p);
  *pid = std::atoi(vars["FLOE_TEST_MOTO_PID"].c_str());
  return vars;
}

}  // namespace

int main() {
  fs::path dir = fs::temp_directory_path() / ("floe-objectstore-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // Best of three: the first run also pays for allocating the file's blocks on a cold disk.
  double raw = 0;
  for (int i = 0; i < 3; ++i) raw = std::max(raw, raw_write_mb_per_s(dir, 256u << 20));
  std::printf("objectstore raw file write (1 MiB writes + fsync, best of 3): %.1f MB/s\n", raw);

  {
    FsStoreOptions o;
    o.root = dir / "objects";
    o.threads = 8;
    auto store = FsStore::open(o);
    if (store.ok()) bench_store("fs", *store.value(), 4u << 20, 256u << 20, 1u << 20, raw);
  }

  if (!std::getenv("FLOE_BENCH_NO_S3")) {
    int moto_pid = 0;
    auto vars = start_moto(&moto_pid);
    if (vars["FLOE_TEST_S3_ENDPOINT"].empty()) {
      std::printf("objectstore s3: moto_server unavailable, skipped\n");
    } else {
      S3Options o;
      o.bucket = vars["FLOE_TEST_S3_BUCKET"];
      o.region = vars["FLOE_TEST_S3_REGION"].empty() ? "us-east-1" : vars["FLOE_TEST_S3_REGION"];
      o.endpoint = vars["FLOE_TEST_S3_ENDPOINT"];
      o.path_style = true;
      o.credentials = Credentials{vars["FLOE_TEST_S3_ACCESS_KEY"], vars["FLOE_TEST_S3_SECRET_KEY"], ""};
      S3Store store(o);
      bench_store("s3", store, 1u << 20, 32u << 20, 256u << 10, raw);
    }
    if (moto_pid > 0) ::kill(moto_pid, SIGTERM);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
