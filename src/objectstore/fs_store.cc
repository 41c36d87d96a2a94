#include "objectstore/fs_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "common/file_io.h"
#include "objectstore/mem_store.h"

namespace floe::objectstore {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxComponentBytes = 250;  // leaves room for the '~' under NAME_MAX (255)

Error os_error(std::string_view what, const std::string& path, int err) {
  return store_error(Errc::io, std::string(what) + " " + path + ": " + std::strerror(err),
                     err == ENOSPC ? "FloeDiskFull" : "", 0, err == EINTR || err == EAGAIN);
}

Error bad_key(std::string message) {
  return store_error(Errc::invalid_value, std::move(message), "InvalidKey", 400);
}

std::string encode_component(std::string_view c) {
  static const char* hex = "0123456789ABCDEF";
  if (c.empty()) return "%";
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    auto b = static_cast<unsigned char>(c[i]);
    bool plain = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
                 b == '_' || (b == '.' && i > 0);
    if (plain) {
      out.push_back(static_cast<char>(b));
    } else {
      out.push_back('%');
      out.push_back(hex[b >> 4]);
      out.push_back(hex[b & 15]);
    }
  }
  return out;
}

std::optional<std::string> decode_component(std::string_view c) {
  if (c == "%") return std::string();
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i] != '%') {
      out.push_back(c[i]);
      continue;
    }
    if (i + 2 >= c.size()) return std::nullopt;
    auto hexval = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      if (h >= 'A' && h <= 'F') return h - 'A' + 10;
      return -1;
    };
    int hi = hexval(c[i + 1]);
    int lo = hexval(c[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string etag_of(const struct stat& st) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
                static_cast<unsigned long long>(st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec));
  return buf;
}

int64_t mtime_ms(const struct stat& st) { return st.st_mtim.tv_sec * 1000ll + st.st_mtim.tv_nsec / 1000000; }

Result<Bytes> read_file_range(const fs::path& p, uint64_t offset, uint64_t len) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return os_error("open", p.string(), errno);
  Bytes out(static_cast<size_t>(len));
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd, out.data() + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      return os_error("read", p.string(), err);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

}  // namespace

Result<fs::path> FsStore::key_path(std::string_view key) {
  if (auto s = validate_key(key); !s.ok()) return bad_key(s.error().message);
  fs::path out;
  size_t start = 0;
  for (;;) {
    size_t slash = key.find('/', start);
    std::string_view comp = key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    std::string enc = encode_component(comp);
    if (enc.size() > kMaxComponentBytes) return bad_key("a path component of key is too long for the fs backend");
    if (slash == std::string_view::npos) {
      out /= enc + "~";
      return out;
    }
    out /= enc;
    start = slash + 1;
  }
}

std::optional<std::string> FsStore::path_key(const fs::path& relative) {
  std::string key;
  bool first = true;
  std::vector<std::string> comps;
  for (const auto& c : relative) comps.push_back(c.string());
  if (comps.empty() || comps.back().empty() || comps.back().back() != '~') return std::nullopt;
  comps.back().pop_back();
  for (const auto& c : comps) {
    auto d = decode_component(c);
    if (!d) return std::nullopt;
    if (!first) key.push_back('/');
    key += *d;
    first = false;
  }
  return key;
}

FsStore::FsStore(FsStoreOptions options)
    : options_(std::move(options)),
      instance_nonce_(std::random_device{}()),
      workers_(options_.threads, options_.max_queued, options_.thread_nice) {}

FsStore::~FsStore() { workers_.stop(); }

Result<std::unique_ptr<FsStore>> FsStore::open(FsStoreOptions options) {
  std::error_code ec;
  fs::create_directories(options.root / ".tmp", ec);
  if (ec) return Error(Errc::io, "create " + (options.root / ".tmp").string() + ": " + ec.message());
  fs::create_directories(options.root / ".uploads", ec);
  if (ec) return Error(Errc::io, "create " + (options.root / ".uploads").string() + ": " + ec.message());
  // Whatever is in .tmp was never renamed into place: a crash interrupted it.
  for (const auto& entry : fs::directory_iterator(options.root / ".tmp", ec)) fs::remove_all(entry.path(), ec);
  return std::unique_ptr<FsStore>(new FsStore(std::move(options)));
}

template <typename T, typename F>
void FsStore::run(Callback<T> done, F work) {
  auto shared_done = std::make_shared<Callback<T>>(std::move(done));
  bool accepted = workers_.submit([shared_done, work = std::move(work)]() mutable { (*shared_done)(work()); });
  if (!accepted) (*shared_done)(queue_full("fs store"));
}

fs::path FsStore::temp_path() {
  return options_.root / ".tmp" /
         (std::to_string(::getpid()) + "-" + std::to_string(instance_nonce_) + "-" + std::to_string(temp_counter_++));
}

Result<PutResult> FsStore::write_atomically(const fs::path& final_path, std::span<const SharedBytes> chunks) {
  fs::path tmp = temp_path();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return os_error("create", tmp.string(), errno);
  for (const auto& chunk : chunks) {
    size_t done = 0;
    while (done < chunk.size()) {
      ssize_t n = ::write(fd, chunk.data() + done, chunk.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return os_error("write", tmp.string(), err);
      }
      done += static_cast<size_t>(n);
    }
  }
  if (options_.fsync && ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return os_error("fsync", tmp.string(), err);
  }
  struct stat st {};
  ::fstat(fd, &st);
  ::close(fd);
  // A concurrent delete may remove an emptied parent between mkdir and rename: try again.
  for (int attempt = 0;; ++attempt) {
    std::error_code ec;
    fs::create_directories(final_path.parent_path(), ec);
    if (::rename(tmp.c_str(), final_path.c_str()) == 0) break;
    int err = errno;
    if (err != ENOENT || attempt == 3) {
      ::unlink(tmp.c_str());
      return os_error("rename to", final_path.string(), err);
    }
  }
  if (options_.fsync) {
    if (auto s = fsync_dir(final_path.parent_path().string()); !s.ok()) return Error(Errc::io, s.error().message);
  }
  return PutResult{etag_of(st)};
}

void FsStore::put_object(std::string key, SharedBytes body, Callback<PutResult> done) {
  run<PutResult>(std::move(done), [this, key = std::move(key), body = std::move(body)]() -> Result<PutResult> {
    auto rel = key_path(key);
    if (!rel.ok()) return rel.error();
    return write_atomically(options_.root / rel.value(), std::span<const SharedBytes>(&body, 1));
  });
}

Result<ObjectInfo> FsStore::stat_object(const std::string& key) {
  auto rel = key_path(key);
  if (!rel.ok()) return rel.error();
  fs::path p = options_.root / rel.value();
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return no_such_key(key);
    return os_error("stat", p.string(), errno);
  }
  return ObjectInfo{key, static_cast<uint64_t>(st.st_size), etag_of(st), mtime_ms(st)};
}

void FsStore::get(std::string key, ByteRange range, Callback<GetResult> done) {
  run<GetResult>(std::move(done), [this, key = std::move(key), range]() -> Result<GetResult> {
    auto rel = key_path(key);
    if (!rel.ok()) return rel.error();
    fs::path p = options_.root / rel.value();
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return no_such_key(key);
      return os_error("open", p.string(), errno);
    }
    // Read through the descriptor we stat'ed: a concurrent rename cannot mix two versions.
    struct stat st {};
    ::fstat(fd, &st);
    auto span = resolve_range(range, static_cast<uint64_t>(st.st_size));
    if (!span.ok()) {
      ::close(fd);
      return span.error();
    }
    Bytes out(static_cast<size_t>(span->second));
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(span->first + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = n < 0 ? errno : EIO;
        ::close(fd);
        return os_error("read", p.string(), err);
      }
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    return GetResult{SharedBytes(std::move(out)), static_cast<uint64_t>(st.st_size), etag_of(st)};
  });
}

void FsStore::head(std::string key, Callback<ObjectInfo> done) {
  run<ObjectInfo>(std::move(done), [this, key = std::move(key)] { return stat_object(key); });
}

Result<ListPage> FsStore::list_now(const ListRequest& request) {
  // Start the walk at the deepest directory the prefix names whole.
  fs::path start_rel;
  size_t slash = request.prefix.rfind('/');
  if (slash != std::string::npos) {
    std::string dir_key = request.prefix.substr(0, slash) + "/x";
    auto rel = key_path(dir_key);
    if (!rel.ok()) return ListPage{};
    start_rel = rel->parent_path();
  }
  std::vector<ObjectInfo> found;
  std::error_code ec;
  fs::path start = options_.root / start_rel;
  if (!fs::is_directory(start, ec)) return ListPage{};
  for (auto it = fs::recursive_directory_iterator(start, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    fs::path rel = fs::relative(it->path(), options_.root, ec);
    if (it.depth() == 0 && start_rel.empty()) {
      std::string top = rel.string();
      if (top == ".tmp" || top == ".uploads") {
        it.disable_recursion_pending();
        continue;
      }
    }
    if (!it->is_regular_file(ec)) continue;
    auto key = path_key(rel);
    if (!key || key->compare(0, request.prefix.size(), request.prefix) != 0) continue;
    if (!request.continuation_token.empty() && *key <= request.continuation_token) continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0) continue;  // deleted meanwhile
    found.push_back({std::move(*key), static_cast<uint64_t>(st.st_size), etag_of(st), mtime_ms(st)});
  }
  if (ec && ec != std::errc::no_such_file_or_directory) return os_error("list", start.string(), ec.value());
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  uint32_t max_keys = std::clamp<uint32_t>(request.max_keys, 1, kMaxListKeys);
  ListPage page;
  if (found.size() > max_keys) {
    found.resize(max_keys);
    page.next_continuation_token = found.back().key;
  }
  page.objects = std::move(found);
  return page;
}

void FsStore::list(ListRequest request, Callback<ListPage> done) {
  run<ListPage>(std::move(done), [this, request = std::move(request)] { return list_now(request); });
}

void FsStore::delete_batch(std::vector<std::string> keys, Callback<DeleteResult> done) {
  FLOE_ASSERT(!keys.empty() && keys.size() <= kMaxDeleteBatch);
  run<DeleteResult>(std::move(done), [this, keys = std::move(keys)]() -> Result<DeleteResult> {
    DeleteResult r;
    for (const auto& key : keys) {
      auto rel = key_path(key);
      if (!rel.ok()) {
        r.errors.push_back({key, "InvalidKey", rel.error().message});
        continue;
      }
      fs::path p = options_.root / rel.value();
      if (::unlink(p.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR) {
        r.errors.push_back({key, "InternalError", std::strerror(errno)});
        continue;
      }
      ++r.deleted_count;
      // Remove directories the delete emptied (rmdir fails harmlessly on a non-empty one).
      for (fs::path dir = p.parent_path(); dir != options_.root && dir.string().size() > options_.root.string().size();
           dir = dir.parent_path()) {
        if (::rmdir(dir.c_str()) != 0) break;
      }
    }
    return r;
  });
}

namespace {
Error fs_no_such_upload(const std::string& id) {
  return store_error(Errc::not_found, "no such upload: " + id, "NoSuchUpload", 404);
}

bool valid_upload_id(const std::string& id) {
  return !id.empty() && id.size() < 64 && id.find_first_not_of("0123456789abcdef-") == std::string::npos;
}
}  // namespace

void FsStore::create_multipart(std::string key, Callback<std::string> done) {
  run<std::string>(std::move(done), [this, key = std::move(key)]() -> Result<std::string> {
    auto rel = key_path(key);
    if (!rel.ok()) return rel.error();
    char id[48];
    std::snprintf(id, sizeof id, "%llx-%llx-%llx", static_cast<unsigned long long>(now_ms()),
                  static_cast<unsigned long long>(instance_nonce_), static_cast<unsigned long long>(temp_counter_++));
    fs::path dir = options_.root / ".uploads" / id;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return os_error("create", dir.string(), ec.value());
    SharedBytes key_bytes = SharedBytes::copy_of({reinterpret_cast<const uint8_t*>(key.data()), key.size()});
    auto w = write_atomically(dir / "key", std::span<const SharedBytes>(&key_bytes, 1));
    if (!w.ok()) return w.error();
    return std::string(id);
  });
}

namespace {
// Reads .uploads/<id>/key and checks it names key.
Result<fs::path> upload_dir(const fs::path& root, const std::string& id, const std::string& key) {
  if (!valid_upload_id(id)) return fs_no_such_upload(id);
  fs::path dir = root / ".uploads" / id;
  std::error_code ec;
  auto size = fs::file_size(dir / "key", ec);
  if (ec) return fs_no_such_upload(id);
  auto bytes = read_file_range(dir / "key", 0, size);
  if (!bytes.ok()) return fs_no_such_upload(id);
  if (std::string(bytes->begin(), bytes->end()) != key) return fs_no_such_upload(id);
  return dir;
}

std::string part_name(int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "part-%05d", n);
  return buf;
}
}  // namespace

void FsStore::upload_part(std::string key, std::string upload_id, int part_number, SharedBytes body,
                          Callback<std::string> done) {
  run<std::string>(std::move(done), [this, key = std::move(key), upload_id = std::move(upload_id), part_number,
                                     body = std::move(body)]() -> Result<std::string> {
    auto dir = upload_dir(options_.root, upload_id, key);
    if (!dir.ok()) return dir.error();
    if (part_number < 1 || part_number > kMaxPartNumber)
      return Error(Errc::invalid_value, "part number out of range");
    auto w = write_atomically(dir.value() / part_name(part_number), std::span<const SharedBytes>(&body, 1));
    if (!w.ok()) return w.error();
    return w->etag;
  });
}

void FsStore::complete_multipart(std::string key, std::string upload_id, std::vector<PartInfo> parts,
                                 Callback<PutResult> done) {
  run<PutResult>(std::move(done), [this, key = std::move(key), upload_id = std::move(upload_id),
                                   parts = std::move(parts)]() -> Result<PutResult> {
    auto dir = upload_dir(options_.root, upload_id, key);
    if (!dir.ok()) return dir.error();
    auto rel = key_path(key);
    if (!rel.ok()) return rel.error();
    std::vector<SharedBytes> chunks;
    int last = 0;
    for (const auto& p : parts) {
      fs::path part = dir.value() / part_name(p.part_number);
      struct stat st {};
      if (p.part_number <= last || ::stat(part.c_str(), &st) != 0 || etag_of(st) != p.etag) {
        return store_error(Errc::invalid_value, "part " + std::to_string(p.part_number) + " invalid", "InvalidPart", 400);
      }
      last = p.part_number;
      auto bytes = read_file_range(part, 0, static_cast<uint64_t>(st.st_size));
      if (!bytes.ok()) return bytes.error();
      chunks.emplace_back(std::move(bytes).value());
    }
    auto w = write_atomically(options_.root / rel.value(), chunks);
    if (!w.ok()) return w.error();
    std::error_code ec;
    fs::remove_all(dir.value(), ec);
    return w;
  });
}

void FsStore::abort_multipart(std::string key, std::string upload_id, Callback<Unit> done) {
  run<Unit>(std::move(done), [this, key = std::move(key), upload_id = std::move(upload_id)]() -> Result<Unit> {
    auto dir = upload_dir(options_.root, upload_id, key);
    if (!dir.ok()) return dir.error();
    std::error_code ec;
    fs::remove_all(dir.value(), ec);
    if (ec) return os_error("remove", dir->string(), ec.value());
    return Unit{};
  });
}

void FsStore::list_multipart_uploads(std::string prefix, Callback<std::vector<UploadInfo>> done) {
  run<std::vector<UploadInfo>>(std::move(done), [this, prefix = std::move(prefix)]() -> Result<std::vector<UploadInfo>> {
    std::vector<UploadInfo> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(options_.root / ".uploads", ec)) {
      std::error_code size_ec;
      auto size = fs::file_size(entry.path() / "key", size_ec);
      if (size_ec) continue;
      auto bytes = read_file_range(entry.path() / "key", 0, size);
      if (!bytes.ok()) continue;
      std::string key(bytes->begin(), bytes->end());
      if (key.compare(0, prefix.size(), prefix) == 0 && out.size() < kMaxListKeys)
        out.push_back({key, entry.path().filename().string()});
    }
    return out;
  });
}

}  // namespace floe::objectstore
