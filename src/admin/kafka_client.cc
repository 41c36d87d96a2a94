#include "admin/kafka_client.h"

namespace floe::admin {

asio::error_code KafkaConnection::run_bounded(const std::function<void(std::function<void(asio::error_code)>)>& start) {
  asio::error_code result = asio::error::would_block;
  start([&result](asio::error_code ec) { result = ec; });
  io_.restart();
  io_.run_for(std::chrono::milliseconds(io_timeout_ms_));
  if (result != asio::error::would_block) return result;
  asio::error_code ignored;
  socket_.close(ignored);  // the operation completes with operation_aborted
  io_.restart();
  io_.run();
  return asio::error::timed_out;
}

namespace {
Error io_error(const std::string& what, const asio::error_code& ec) {
  return Error{ec == asio::error::timed_out ? Errc::timeout : Errc::io, what + ": " + ec.message()};
}
}  // namespace

Result<std::unique_ptr<KafkaConnection>> KafkaConnection::connect(const std::string& bootstrap, std::string client_id,
                                                                   int64_t io_timeout_ms) {
  auto colon = bootstrap.rfind(':');
  if (colon == std::string::npos) return Error{Errc::invalid_value, "bootstrap '" + bootstrap + "' is not host:port"};
  std::string host = bootstrap.substr(0, colon);
  std::string port = bootstrap.substr(colon + 1);
  std::unique_ptr<KafkaConnection> c(new KafkaConnection());
  c->client_id_ = std::move(client_id);
  c->io_timeout_ms_ = io_timeout_ms > 0 ? io_timeout_ms : 30000;
  asio::error_code ec;
  asio::ip::tcp::resolver resolver(c->io_);
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return Error{Errc::io, "resolving " + bootstrap + ": " + ec.message()};
  ec = c->run_bounded([&](auto done) {
    asio::async_connect(c->socket_, endpoints, [done](asio::error_code e, const auto&) { done(e); });
  });
  if (ec) return io_error("connecting to " + bootstrap, ec);
  c->socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  return c;
}

Status KafkaConnection::send_frame(int16_t api_key, int16_t version, const std::function<void(ByteWriter&)>& encode_body) {
  ByteWriter w(1024);
  size_t size_at = w.reserve_slot(4);
  protocol::RequestHeader header;
  header.request_api_key = api_key;
  header.request_api_version = version;
  header.correlation_id = next_correlation_id_++;
  header.client_id = client_id_;
  header.encode(w, protocol::request_header_version(api_key, version));
  encode_body(w);
  w.patch_i32(size_at, static_cast<int32_t>(w.size() - 4));
  asio::error_code ec = run_bounded([&](auto done) {
    asio::async_write(socket_, asio::buffer(w.bytes()), [done](asio::error_code e, size_t) { done(e); });
  });
  if (ec) return io_error("sending a request", ec);
  pending_.push_back({header.correlation_id, api_key, version});
  return {};
}

Result<KafkaConnection::Frame> KafkaConnection::receive_frame() {
  if (pending_.empty()) return Error{Errc::internal, "no request is waiting for an answer"};
  Pending p = pending_.front();
  pending_.pop_front();
  uint8_t size_bytes[4];
  asio::error_code ec = run_bounded([&](auto done) {
    asio::async_read(socket_, asio::buffer(size_bytes), [done](asio::error_code e, size_t) { done(e); });
  });
  if (ec) return io_error("reading an answer", ec);
  int32_t size = static_cast<int32_t>((uint32_t(size_bytes[0]) << 24) | (uint32_t(size_bytes[1]) << 16) |
                                      (uint32_t(size_bytes[2]) << 8) | uint32_t(size_bytes[3]));
  if (size < 4 || static_cast<size_t>(size) > max_response_bytes_) {
    return Error{Errc::invalid_length, "answer of " + std::to_string(size) + " bytes"};
  }
  Bytes frame(static_cast<size_t>(size));
  ec = run_bounded([&](auto done) {
    asio::async_read(socket_, asio::buffer(frame), [done](asio::error_code e, size_t) { done(e); });
  });
  if (ec) return io_error("reading an answer", ec);
  SharedBytes shared(std::move(frame));
  ByteReader r(shared);
  protocol::ResponseHeader header;
  if (Status s = header.decode(r, protocol::response_header_version(p.api_key, p.version)); !s.ok()) return s.take_error();
  if (header.correlation_id != p.correlation_id) {
    return Error{Errc::corrupt, "answer for correlation id " + std::to_string(header.correlation_id) + ", expected " +
                                    std::to_string(p.correlation_id)};
  }
  return Frame{shared.slice(r.pos(), shared.size() - r.pos()), p.version};
}

}  // namespace floe::admin
