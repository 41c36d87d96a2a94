#include "objectstore/s3_store.h"

#include <curl/curl.h>

#include <chrono>

#include "objectstore/crypto.h"
#include "objectstore/s3_xml.h"

namespace floe::objectstore {

namespace {

constexpr const char* kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

bool retryable_code(const std::string& code) {
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" || code == "ServiceUnavailable" ||
         code == "Throttling" || code == "ThrottlingException" || code == "RequestThrottled";
}

std::string status_code_name(int status) {
  switch (status) {
    case 301: return "PermanentRedirect";
    case 400: return "BadRequest";
    case 403: return "AccessDenied";
    case 404: return "NotFound";
    case 412: return "PreconditionFailed";
    case 416: return "InvalidRange";
    case 500: return "InternalError";
    case 503: return "SlowDown";
    default: return "HTTP" + std::to_string(status);
  }
}

Errc errc_for_status(int status) {
  if (status == 404) return Errc::not_found;
  if (status == 403 || status == 401 || status == 301 || status == 307) return Errc::config;
  if (status >= 400 && status < 500) return Errc::invalid_value;
  return Errc::io;
}

bool is_2xx(int status) { return status >= 200 && status < 300; }

std::string wire_query(const HeaderList& query) {
  // Same encoding and order as the canonical query; valueless parameters go as bare names.
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [n, v] : query) encoded.emplace_back(uri_encode(n, true), uri_encode(v, true));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [n, v] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += n;
    if (!v.empty()) out += "=" + v;
  }
  return out;
}

SharedBytes text_body(const std::string& s) { return SharedBytes(Bytes(s.begin(), s.end())); }

}  // namespace

S3Store::S3Store(S3Options options) : options_(std::move(options)), http_(options_.http) {
  std::string endpoint = options_.endpoint;
  if (endpoint.empty()) endpoint = "https://s3." + options_.region + ".amazonaws.com";
  size_t sep = endpoint.find("://");
  scheme_ = sep == std::string::npos ? "https" : endpoint.substr(0, sep);
  host_ = sep == std::string::npos ? endpoint : endpoint.substr(sep + 3);
  while (!host_.empty() && host_.back() == '/') host_.pop_back();
}

S3Store::~S3Store() { http_.stop(); }

std::string S3Store::describe() const {
  return "s3://" + options_.bucket + " (" + scheme_ + "://" + host_ + ", region " + options_.region +
         (options_.path_style ? ", path-style" : ", virtual-hosted") + ")";
}

Error S3Store::error_from_response(const HttpResponse& response, const std::string& what) {
  ErrorDetail d;
  d.http_status = response.status;
  d.request_id = response.header("x-amz-request-id");
  std::string message;
  if (auto doc = s3xml::parse_error(response.body)) {
    d.service_code = doc->code;
    message = doc->message;
    if (!doc->request_id.empty()) d.request_id = doc->request_id;
    if (!doc->region.empty()) message += " (bucket region: " + doc->region + ")";
  }
  if (d.service_code.empty()) d.service_code = status_code_name(response.status);
  if (std::string region = response.header("x-amz-bucket-region"); !region.empty() &&
                                                                    message.find(region) == std::string::npos) {
    message += " (bucket region: " + region + ")";
  }
  message = what + (message.empty() ? "" : ": " + message);
  d.retryable = response.status >= 500 || response.status == 429 || retryable_code(d.service_code);
  Errc code = d.retryable ? Errc::io : errc_for_status(response.status);
  return Error(code, std::move(message), std::move(d));
}

void S3Store::send(Call call, std::function<void(Result<HttpResponse>)> done) {
  std::string host = options_.path_style ? host_ : options_.bucket + "." + host_;
  std::string path;
  if (options_.path_style) {
    path = encode_s3_path(call.key.empty() ? options_.bucket : options_.bucket + "/" + call.key);
  } else {
    path = encode_s3_path(call.key);
  }
  std::string query = wire_query(call.query);
  HttpRequest request;
  request.method = call.method;
  request.url = scheme_ + "://" + host + path + (query.empty() ? "" : "?" + query);
  request.body = call.body;
  request.max_response_bytes = call.max_response_bytes;
  std::string payload_hash = call.body.empty() ? std::string(kEmptySha256)
                             : options_.sign_payload ? sha256_hex(call.body.span())
                                                     : std::string(kUnsignedPayload);
  request.prepare = [this, host, path, query_params = std::move(call.query), extra = std::move(call.headers),
                     payload_hash](HttpRequest& r) {
    std::string date = amz_timestamp(std::chrono::system_clock::now());
    SignableRequest s;
    s.method = r.method;
    s.encoded_path = path;
    s.query = query_params;
    s.headers = extra;
    s.headers.emplace_back("host", host);
    s.headers.emplace_back("x-amz-date", date);
    s.headers.emplace_back("x-amz-content-sha256", payload_hash);
    if (!options_.credentials.session_token.empty())
      s.headers.emplace_back("x-amz-security-token", options_.credentials.session_token);
    s.payload_hash = payload_hash;
    SignedParts signed_parts = sign_v4(s, options_.credentials, options_.region, "s3", date);
    r.headers = s.headers;
    r.headers.emplace_back("Authorization", signed_parts.authorization);
  };
  http_.submit(std::move(request), std::move(done));
}

void S3Store::put_object(std::string key, SharedBytes body, Callback<PutResult> done) {
  if (auto s = validate_key(key); !s.ok()) return done(s.take_error());
  Call c{"PUT", key, {}, {{"content-type", "application/octet-stream"}}, std::move(body)};
  send(std::move(c), [done = std::move(done), key](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (!is_2xx(r->status)) return done(error_from_response(r.value(), "PutObject " + key));
    done(PutResult{r->header("etag")});
  });
}

void S3Store::get(std::string key, ByteRange range, Callback<GetResult> done) {
  if (auto s = validate_key(key); !s.ok()) return done(s.take_error());
  Call c{"GET", key, {}, {}, {}};
  c.max_response_bytes = options_.max_get_bytes;
  if (!range.is_all()) {
    if (range.length == 0) {
      return done(store_error(Errc::invalid_value, "empty range", "InvalidRange"));
    }
    std::string spec = "bytes=" + std::to_string(range.offset) + "-";
    if (range.length != ByteRange::kToEnd) {
      spec += std::to_string(range.offset + range.length - 1);
      c.max_response_bytes = std::min(c.max_response_bytes, range.length);
    }
    c.headers.emplace_back("range", spec);
  }
  send(std::move(c), [done = std::move(done), key, range](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (!is_2xx(r->status)) return done(error_from_response(r.value(), "GetObject " + key));
    GetResult g;
    g.etag = r->header("etag");
    uint64_t body_size = r->body.size();
    std::string content_range = r->header("content-range");  // "bytes 0-9/1234"
    size_t slash = content_range.rfind('/');
    g.object_size_bytes = slash != std::string::npos ? std::strtoull(content_range.c_str() + slash + 1, nullptr, 10)
                                                     : body_size;
    g.body = SharedBytes(std::move(r.value().body));
    if (r->status == 200 && !range.is_all()) {
      // The server ignored the Range header: cut the slice out ourselves.
      if (range.offset >= body_size) {
        return done(store_error(Errc::invalid_value, "range past the end of " + key, "InvalidRange"));
      }
      g.body = g.body.slice(static_cast<size_t>(range.offset),
                            static_cast<size_t>(std::min(range.length, body_size - range.offset)));
    }
    done(std::move(g));
  });
}

void S3Store::head(std::string key, Callback<ObjectInfo> done) {
  if (auto s = validate_key(key); !s.ok()) return done(s.take_error());
  send(Call{"HEAD", key, {}, {}, {}}, [done = std::move(done), key](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (!is_2xx(r->status)) {
      // A HEAD answer has no body to name the error: a 404 is NoSuchKey.
      if (r->status == 404) {
        ErrorDetail d;
        d.http_status = 404;
        d.service_code = "NoSuchKey";
        d.request_id = r->header("x-amz-request-id");
        return done(Error(Errc::not_found, "HeadObject " + key, std::move(d)));
      }
      return done(error_from_response(r.value(), "HeadObject " + key));
    }
    ObjectInfo info;
    info.key = key;
    info.size_bytes = std::strtoull(r->header("content-length").c_str(), nullptr, 10);
    info.etag = r->header("etag");
    time_t t = curl_getdate(r->header("last-modified").c_str(), nullptr);
    info.last_modified_ms = t > 0 ? static_cast<int64_t>(t) * 1000 : 0;
    done(std::move(info));
  });
}

void S3Store::list(ListRequest request, Callback<ListPage> done) {
  Call c{"GET", "", {{"list-type", "2"}}, {}, {}};
  uint32_t max_keys = std::clamp<uint32_t>(request.max_keys, 1, kMaxListKeys);
  c.query.emplace_back("max-keys", std::to_string(max_keys));
  if (!request.prefix.empty()) c.query.emplace_back("prefix", request.prefix);
  if (!request.continuation_token.empty()) c.query.emplace_back("continuation-token", request.continuation_token);
  send(std::move(c), [done = std::move(done)](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (!is_2xx(r->status)) return done(error_from_response(r.value(), "ListObjectsV2"));
    done(s3xml::parse_list_v2(r->body));
  });
}

void S3Store::delete_batch(std::vector<std::string> keys, Callback<DeleteResult> done) {
  FLOE_ASSERT(!keys.empty() && keys.size() <= kMaxDeleteBatch);
  std::string xml = s3xml::build_delete(keys);
  Call c{"POST", "", {{"delete", ""}}, {}, text_body(xml)};
  c.headers.emplace_back("content-type", "application/xml");
  c.headers.emplace_back("content-md5", md5_base64(as_bytes(xml)));
  size_t count = keys.size();
  send(std::move(c), [done = std::move(done), count](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (!is_2xx(r->status) || s3xml::parse_error(r->body))
      return done(error_from_response(r.value(), "DeleteObjects"));
    auto errors = s3xml::parse_delete_result(r->body);
    if (!errors.ok()) return done(errors.error());
    DeleteResult result;
    result.errors = std::move(errors).value();
    result.deleted_count = count - std::min(count, result.errors.size());
    done(std::move(result));
  });
}

void S3Store::create_multipart(std::string key, Callback<std::string> done) {
  if (auto s = validate_key(key); !s.ok()) return done(s.take_error());
  Call c{"POST", key, {{"uploads", ""}}, {{"content-type", "application/octet-stream"}}, {}};
  send(std::move(c), [done = std::move(done), key](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (!is_2xx(r->status)) return done(error_from_response(r.value(), "CreateMultipartUpload " + key));
    done(s3xml::parse_initiate_multipart(r->body));
  });
}

void S3Store::upload_part(std::string key, std::string upload_id, int part_number, SharedBytes body,
                          Callback<std::string> done) {
  Call c{"PUT", key, {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}}, {}, std::move(body)};
  c.headers.emplace_back("content-type", "application/octet-stream");
  send(std::move(c), [done = std::move(done), key, part_number](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (!is_2xx(r->status))
      return done(error_from_response(r.value(), "UploadPart " + key + " #" + std::to_string(part_number)));
    std::string etag = r->header("etag");
    if (etag.empty()) {
      return done(store_error(Errc::invalid_value, "UploadPart answered without an ETag", "FloeMalformedResponse"));
    }
    done(etag);
  });
}

void S3Store::complete_multipart(std::string key, std::string upload_id, std::vector<PartInfo> parts,
                                 Callback<PutResult> done) {
  Call c{"POST", key, {{"uploadId", upload_id}}, {{"content-type", "application/xml"}},
         text_body(s3xml::build_complete_multipart(parts))};
  send(std::move(c), [done = std::move(done), key](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    // S3 may answer 200 and still carry an <Error> document (the failure happened mid-response).
    if (!is_2xx(r->status) || s3xml::parse_error(r->body)) {
      HttpResponse copy = r.value();
      if (is_2xx(copy.status)) copy.status = 500;
      return done(error_from_response(copy, "CompleteMultipartUpload " + key));
    }
    std::string etag = s3xml::parse_complete_etag(r->body);
    if (etag.empty()) etag = r->header("etag");
    done(PutResult{etag});
  });
}

void S3Store::abort_multipart(std::string key, std::string upload_id, Callback<Unit> done) {
  send(Call{"DELETE", key, {{"uploadId", upload_id}}, {}, {}}, [done = std::move(done), key](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (r->status == 404) return done(Unit{});  // already gone: aborting is idempotent
    if (!is_2xx(r->status)) return done(error_from_response(r.value(), "AbortMultipartUpload " + key));
    done(Unit{});
  });
}

void S3Store::list_multipart_uploads(std::string prefix, Callback<std::vector<UploadInfo>> done) {
  Call c{"GET", "", {{"uploads", ""}}, {}, {}};
  if (!prefix.empty()) c.query.emplace_back("prefix", prefix);
  send(std::move(c), [done = std::move(done)](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (!is_2xx(r->status)) return done(error_from_response(r.value(), "ListMultipartUploads"));
    done(s3xml::parse_list_uploads(r->body));
  });
}

void S3Store::create_bucket(Callback<Unit> done) {
  Call c{"PUT", "", {}, {}, {}};
  if (options_.region != "us-east-1") {
    c.body = text_body(
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>" +
        options_.region + "</LocationConstraint></CreateBucketConfiguration>");
    c.headers.emplace_back("content-type", "application/xml");
  }
  send(std::move(c), [done = std::move(done)](Result<HttpResponse> r) {
    if (!r.ok()) return done(r.error());
    if (is_2xx(r->status)) return done(Unit{});
    Error e = error_from_response(r.value(), "CreateBucket");
    if (e.detail().service_code == "BucketAlreadyOwnedByYou") return done(Unit{});
    done(e);
  });
}

}  // namespace floe::objectstore
