#include "storage/s3_backend.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <random>
#include <set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "core/log.hpp"
#include "storage/time_format.hpp"
#include <expat.h>
#include <openssl/evp.h>

namespace mando::storage {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

constexpr std::string_view kMetaPrefix = "x-amz-meta-";
constexpr milliseconds kMaxBackoff{20000};

Error invalid(std::string_view field, std::string_view why) {
  return Error{ErrorKind::kInvalidArgument, fmt::format("[storage] {}: {}", field, why)};
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string env_or(const std::map<std::string, std::string>& env, const char* name,
                   std::string fallback) {
  auto it = env.find(name);
  return it != env.end() && !it->second.empty() ? it->second : std::move(fallback);
}

Result<void> check_bucket(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) {
    return tl::unexpected(
        invalid("bucket", fmt::format("'{}' must be 3 to 63 characters long", bucket)));
  }
  const auto alnum = [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c));
  };
  for (char c : bucket) {
    if (!alnum(c) && c != '.' && c != '-') {
      return tl::unexpected(invalid(
          "bucket",
          fmt::format("'{}' may hold only lower-case letters, digits, '.' and '-'", bucket)));
    }
  }
  if (!alnum(bucket.front()) || !alnum(bucket.back()) || bucket.find("..") != bucket.npos) {
    return tl::unexpected(invalid(
        "bucket",
        fmt::format("'{}' must start and end with a letter or digit and have no '..'", bucket)));
  }
  return {};
}

// Metadata travels in headers: names of [a-z0-9-], values of printable ASCII, so no header can be
// injected and S3 stores them unchanged.
Result<void> check_metadata(const Metadata& metadata) {
  for (const auto& [name, value] : metadata) {
    const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::islower(static_cast<unsigned char>(c)) ||
             std::isdigit(static_cast<unsigned char>(c)) || c == '-';
    });
    const bool value_ok =
        std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    if (!name_ok || !value_ok) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("metadata '{}': names are [a-z0-9-], values printable ASCII", name));
    }
  }
  return {};
}

// ---- XML: a small element tree over expat, enough for S3's answers -------------------------

struct XmlElement {
  std::string name;
  std::string text;
  std::vector<XmlElement> children;

  const XmlElement* child(std::string_view wanted) const {
    for (const auto& c : children) {
      if (c.name == wanted) return &c;
    }
    return nullptr;
  }
  std::string child_text(std::string_view wanted) const {
    const XmlElement* c = child(wanted);
    return c != nullptr ? c->text : std::string();
  }
};

struct ParserDeleter {
  void operator()(XML_Parser parser) const { XML_ParserFree(parser); }
};
using ParserPtr = std::unique_ptr<std::remove_pointer_t<XML_Parser>, ParserDeleter>;

struct TreeBuilder {
  XmlElement root;
  // Open elements, innermost last. A pointer stays valid while its element is open: only the
  // innermost element's children grow.
  std::vector<XmlElement*> open;

  static void on_start(void* self, const XML_Char* name, const XML_Char** /*attributes*/) {
    auto& b = *static_cast<TreeBuilder*>(self);
    if (b.open.empty()) {
      b.root.name = name;
      b.open.push_back(&b.root);
      return;
    }
    b.open.back()->children.push_back(XmlElement{name, {}, {}});
    b.open.push_back(&b.open.back()->children.back());
  }
  static void on_end(void* self, const XML_Char* /*name*/) {
    static_cast<TreeBuilder*>(self)->open.pop_back();
  }
  static void on_text(void* self, const XML_Char* text, int size) {
    auto& b = *static_cast<TreeBuilder*>(self);
    if (!b.open.empty()) b.open.back()->text.append(text, static_cast<std::size_t>(size));
  }
};

Result<XmlElement> parse_xml(std::string_view xml) {
  ParserPtr parser(XML_ParserCreate("UTF-8"));
  if (!parser) return fail(ErrorKind::kInternal, "XML_ParserCreate failed");
  TreeBuilder builder;
  XML_SetUserData(parser.get(), &builder);
  XML_SetElementHandler(parser.get(), &TreeBuilder::on_start, &TreeBuilder::on_end);
  XML_SetCharacterDataHandler(parser.get(), &TreeBuilder::on_text);
  if (XML_Parse(parser.get(), xml.data(), static_cast<int>(xml.size()), XML_TRUE) !=
      XML_STATUS_OK) {
    return fail(ErrorKind::kInternal,
                fmt::format("unreadable XML at line {}: {}", XML_GetCurrentLineNumber(parser.get()),
                            XML_ErrorString(XML_GetErrorCode(parser.get()))));
  }
  return std::move(builder.root);
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Result<std::uint64_t> parse_size(std::string_view text, std::string_view what) {
  std::uint64_t value = 0;
  if (text.empty()) return fail(ErrorKind::kInternal, fmt::format("{}: missing", what));
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return fail(ErrorKind::kInternal, fmt::format("{}: '{}' is not a size", what, text));
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

TimePoint from_tm(std::tm tm) { return TimePoint(std::chrono::seconds(::timegm(&tm))); }

// ---- the transport over net::HttpClient ----------------------------------------------------

class HttpTransport final : public S3Transport {
 public:
  explicit HttpTransport(net::HttpClient& client) : client_(client) {}
  asio::awaitable<Result<net::ClientResponse>> send(net::ClientRequest request) override {
    co_return co_await client_.send(std::move(request));
  }

 private:
  net::HttpClient& client_;
};

TimePoint system_now() { return std::chrono::time_point_cast<std::chrono::seconds>(Clock::now()); }

milliseconds jitter(milliseconds ceiling) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_int_distribution<milliseconds::rep> pick(0, ceiling.count());
  return milliseconds(pick(random));
}

std::string describe(std::string_view method, std::string_view key) {
  return key.empty() ? std::string(method) : fmt::format("{} key '{}'", method, key);
}

}  // namespace

// ---- options --------------------------------------------------------------------------------

Result<S3Options> s3_options_from_environment(S3Options base,
                                              const std::map<std::string, std::string>& env) {
  base.access_key_id = env_or(env, "AWS_ACCESS_KEY_ID", std::move(base.access_key_id));
  base.secret_access_key = env_or(env, "AWS_SECRET_ACCESS_KEY", std::move(base.secret_access_key));
  base.session_token = env_or(env, "AWS_SESSION_TOKEN", std::move(base.session_token));

  auto endpoint = s3::parse_endpoint(base.endpoint);
  if (!endpoint) return tl::unexpected(endpoint.error());
  if (base.region.empty()) return tl::unexpected(invalid("region", "must not be empty"));
  if (auto ok = check_bucket(base.bucket); !ok) return tl::unexpected(ok.error());
  if (endpoint->ip_literal && !base.path_style) {
    return tl::unexpected(invalid(
        "path_style", "must be true for an IP-address endpoint (BUCKET.IP is no host name)"));
  }
  if (base.access_key_id.empty() || base.secret_access_key.empty()) {
    return tl::unexpected(
        invalid("credentials", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"));
  }
  if (base.max_attempts < 1) return tl::unexpected(invalid("max_attempts", "must be >= 1"));
  if (!base.public_url_template.empty() &&
      base.public_url_template.find("{key}") == std::string::npos) {
    return tl::unexpected(invalid("public_url_template", "must contain {key}"));
  }
  return base;
}

// ---- wire format ----------------------------------------------------------------------------

namespace s3 {

Result<Endpoint> parse_endpoint(std::string_view endpoint) {
  const auto scheme_end = endpoint.find("://");
  if (scheme_end == std::string_view::npos) {
    return tl::unexpected(invalid("endpoint", fmt::format("'{}' is no http(s) URL", endpoint)));
  }
  Endpoint out;
  out.scheme = lower(endpoint.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") {
    return tl::unexpected(
        invalid("endpoint", fmt::format("scheme '{}' is not http or https", out.scheme)));
  }
  std::string_view rest = endpoint.substr(scheme_end + 3);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) {
    return tl::unexpected(invalid(
        "endpoint", fmt::format("'{}' must be scheme://host[:port] without a path", endpoint)));
  }
  std::string host = lower(rest);
  const std::string default_port = out.scheme == "https" ? ":443" : ":80";
  if (host.ends_with(default_port) && host.front() != '[') {
    host.resize(host.size() - default_port.size());
  }
  const std::string bare =
      host.substr(0, host.rfind(':') == std::string::npos || host.front() == '[' ? host.size()
                                                                                 : host.rfind(':'));
  out.ip_literal = host.front() == '[' || std::all_of(bare.begin(), bare.end(), [](char c) {
                     return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
                   });
  out.host = std::move(host);
  return out;
}

namespace {

struct Address {
  std::string scheme;
  std::string host;
  std::string path;
};

Result<Address> address_of(const S3Options& options, std::string_view key) {
  auto endpoint = parse_endpoint(options.endpoint);
  if (!endpoint) return tl::unexpected(endpoint.error());
  const std::string encoded_key = sigv4::uri_encode(key, true);
  if (options.path_style) {
    return Address{
        endpoint->scheme, endpoint->host,
        key.empty() ? "/" + options.bucket : fmt::format("/{}/{}", options.bucket, encoded_key)};
  }
  return Address{endpoint->scheme, fmt::format("{}.{}", options.bucket, endpoint->host),
                 "/" + encoded_key};
}

sigv4::Credentials credentials_of(const S3Options& options) {
  return {options.access_key_id, options.secret_access_key, options.session_token};
}

}  // namespace

Result<net::ClientRequest> build_request(const S3Options& options, const Operation& op,
                                         TimePoint when) {
  auto address = address_of(options, op.key);
  if (!address) return tl::unexpected(address.error());
  sigv4::Request request{op.method, address->path, op.query, {}, sigv4::sha256_hex(op.body)};
  request.headers = {{"Host", address->host},
                     {"x-amz-date", sigv4::amz_date(when)},
                     {"x-amz-content-sha256", request.payload_hash}};
  if (!options.session_token.empty()) {
    request.headers.emplace_back("x-amz-security-token", options.session_token);
  }
  request.headers.insert(request.headers.end(), op.headers.begin(), op.headers.end());
  const auto signature =
      sigv4::sign(credentials_of(options), {options.region, "s3"}, request, when);

  net::ClientRequest out;
  out.method = op.method;
  const std::string query = sigv4::canonical_query(op.query);
  out.url = fmt::format("{}://{}{}{}{}", address->scheme, address->host, address->path,
                        query.empty() ? "" : "?", query);
  for (const auto& [name, value] : request.headers) out.headers.set(name, value);
  out.headers.set("Authorization", signature.authorization);
  out.body = op.body;
  out.timeout = options.timeout;
  out.max_response_bytes = options.max_object_bytes;
  return out;
}

Result<std::string> presigned_url(const S3Options& options, std::string_view key, TimePoint when,
                                  long expires_seconds) {
  auto address = address_of(options, key);
  if (!address) return tl::unexpected(address.error());
  sigv4::Request request{"GET", address->path, {}, {{"host", address->host}}, ""};
  const auto presigned = sigv4::presign(credentials_of(options), {options.region, "s3"}, request,
                                        when, std::clamp(expires_seconds, 1L, kMaxPresignSeconds));
  return fmt::format("{}://{}{}?{}", address->scheme, address->host, address->path,
                     presigned.query);
}

bool retryable(const Result<net::ClientResponse>& outcome) {
  if (!outcome) {
    return outcome.error().kind == ErrorKind::kUnavailable ||
           outcome.error().kind == ErrorKind::kDeadlineExceeded;
  }
  const int status = outcome->status;
  if (status >= 500 || status == 429) return true;
  if (status < 300) return false;
  const std::string code = parse_error_body(outcome->body).code;
  return code == "SlowDown" || code == "InternalError" || code == "RequestTimeout";
}

milliseconds backoff_ceiling(int attempt, milliseconds min_backoff) {
  milliseconds ceiling = min_backoff;
  for (int i = 1; i < attempt && ceiling < kMaxBackoff; ++i) ceiling *= 2;
  return std::min(ceiling, kMaxBackoff);
}

ErrorBody parse_error_body(std::string_view xml) {
  auto root = parse_xml(xml);
  if (!root || root->name != "Error") return {};
  return {root->child_text("Code"), root->child_text("Message"), root->child_text("RequestId")};
}

Error error_from_response(std::string_view what, const net::ClientResponse& response) {
  const ErrorBody body = parse_error_body(response.body);
  const int status = response.status;
  ErrorKind kind = ErrorKind::kInternal;
  if (body.code == "NoSuchBucket") {
    kind = ErrorKind::kFailedPrecondition;  // configuration, not a missing object
  } else if (status == 404 || body.code == "NoSuchKey") {
    kind = ErrorKind::kNotFound;
  } else if (status == 401 || body.code == "SignatureDoesNotMatch" ||
             body.code == "InvalidAccessKeyId" || body.code == "ExpiredToken" ||
             body.code == "InvalidToken") {
    kind = ErrorKind::kUnauthenticated;
  } else if (status == 403) {
    kind = ErrorKind::kPermissionDenied;
  } else if (status >= 500 || status == 429 || body.code == "SlowDown") {
    kind = ErrorKind::kUnavailable;
  } else if (status == 412) {
    kind = ErrorKind::kFailedPrecondition;
  } else if (status == 400) {
    kind = ErrorKind::kInvalidArgument;
  }
  // HEAD answers carry no body: the status is all there is.
  std::string detail = body.code.empty() ? std::string("no S3 error code")
                                         : fmt::format("{}: {}", body.code, body.message);
  if (!body.request_id.empty()) detail += fmt::format(" (request id {})", body.request_id);
  return Error{kind, fmt::format("s3 {}: HTTP {}: {}", what, status, detail)};
}

std::string delete_request_body(const std::vector<std::string>& keys) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete><Quiet>true</Quiet>";
  for (const auto& key : keys)
    out += fmt::format("<Object><Key>{}</Key></Object>", xml_escape(key));
  out += "</Delete>";
  return out;
}

std::string content_md5(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(body.data(), body.size(), digest, &size, EVP_md5(), nullptr);
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

Result<DeleteOutcome> parse_delete_result(std::string_view xml,
                                          const std::vector<std::string>& keys) {
  auto root = parse_xml(xml);
  if (!root) return tl::unexpected(root.error());
  if (root->name != "DeleteResult") {
    return fail(ErrorKind::kInternal, fmt::format("expected DeleteResult, got <{}>", root->name));
  }
  DeleteOutcome out;
  std::set<std::string> failed;
  for (const auto& element : root->children) {
    if (element.name != "Error") continue;
    const std::string key = element.child_text("Key");
    const std::string code = element.child_text("Code");
    if (code == "NoSuchKey") continue;  // gone already: what the caller wanted
    failed.insert(key);
    const Error error = error_from_response(
        fmt::format("DeleteObjects key '{}'", key),
        net::ClientResponse{
            code == "AccessDenied" ? 403 : 500,
            {},
            fmt::format("<Error><Code>{}</Code><Message>{}</Message></Error>", xml_escape(code),
                        xml_escape(element.child_text("Message")))});
    out.failed.emplace_back(key, error);
  }
  // Quiet mode lists only failures; servers that ignore it also list <Deleted>: either way every
  // key not reported failed is gone.
  for (const auto& key : keys) {
    if (failed.count(key) == 0) out.deleted.push_back(key);
  }
  return out;
}

Result<Listing> parse_list_result(std::string_view xml) {
  auto root = parse_xml(xml);
  if (!root) return tl::unexpected(root.error());
  if (root->name != "ListBucketResult") {
    return fail(ErrorKind::kInternal,
                fmt::format("expected ListBucketResult, got <{}>", root->name));
  }
  Listing out;
  for (const auto& element : root->children) {
    if (element.name == "Contents") {
      ObjectInfo info;
      info.key = element.child_text("Key");
      auto size = parse_size(element.child_text("Size"), "Contents/Size");
      if (!size) return tl::unexpected(size.error());
      info.size = *size;
      info.etag = element.child_text("ETag");
      if (auto modified = parse_iso8601(element.child_text("LastModified"))) {
        info.last_modified = *modified;
      }
      out.objects.push_back(std::move(info));
    } else if (element.name == "CommonPrefixes") {
      out.prefixes.push_back(element.child_text("Prefix"));
    }
  }
  if (root->child_text("IsTruncated") == "true") {
    out.next_token = root->child_text("NextContinuationToken");
    if (out.next_token.empty()) {
      return fail(ErrorKind::kInternal, "a truncated listing without NextContinuationToken");
    }
  }
  return out;
}

Result<TimePoint> parse_iso8601(std::string_view text) {
  std::tm tm{};
  const std::string copy(text);
  const char* end = ::strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  // Fractional seconds and the zone letter follow; S3 always answers in UTC ("Z").
  if (end == nullptr || (*end != '.' && *end != 'Z')) {
    return fail(ErrorKind::kInternal, fmt::format("'{}' is no ISO 8601 time", text));
  }
  return from_tm(tm);
}

Result<ObjectInfo> info_from_headers(std::string key, const net::Headers& headers) {
  ObjectInfo info;
  info.key = std::move(key);
  auto size = parse_size(headers.get("Content-Length").value_or(""), "Content-Length");
  if (!size) return tl::unexpected(size.error());
  info.size = *size;
  info.content_type = std::string(headers.get("Content-Type").value_or(""));
  info.etag = std::string(headers.get("ETag").value_or(""));
  if (auto modified = headers.get("Last-Modified")) {
    auto parsed = storage::parse_http_date(*modified);
    if (!parsed) {
      return fail(ErrorKind::kInternal,
                  fmt::format("Last-Modified '{}' is no HTTP date", *modified));
    }
    info.last_modified = *parsed;
  }
  for (const auto& [name, value] : headers.fields()) {
    const std::string lowered = lower(name);
    if (lowered.starts_with(kMetaPrefix)) {
      info.metadata[lowered.substr(kMetaPrefix.size())] = value;
    }
  }
  return info;
}

}  // namespace s3

// ---- the backend ----------------------------------------------------------------------------

struct S3Backend::Call {
  s3::Operation op;
  std::string what;  // for errors and logs: "PUT key 'a/b'"
};

S3Backend::S3Backend(S3Options options, net::HttpClient& client, Now now)
    : S3Backend(std::move(options), std::make_unique<HttpTransport>(client), std::move(now)) {}

S3Backend::S3Backend(S3Options options, std::unique_ptr<S3Transport> transport, Now now)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      now_(now ? std::move(now) : Now(&system_now)) {}

S3Backend::~S3Backend() = default;

asio::awaitable<Result<net::ClientResponse>> S3Backend::perform(Call call) {
  const int attempts = std::max(1, options_.max_attempts);
  for (int attempt = 1;; ++attempt) {
    auto request = s3::build_request(options_, call.op, now_());
    if (!request) co_return tl::unexpected(request.error());
    auto outcome = co_await transport_->send(std::move(*request));
    if (attempt >= attempts || !s3::retryable(outcome)) {
      if (!outcome) {
        co_return tl::unexpected(Error{
            outcome.error().kind, fmt::format("s3 {}: {}", call.what, outcome.error().message)});
      }
      co_return outcome;
    }
    const milliseconds delay = jitter(s3::backoff_ceiling(attempt, options_.min_backoff));
    core::logger("storage")->warn(
        "s3 retry op=\"{}\" attempt={} outcome=\"{}\" delay_ms={}", call.what, attempt,
        outcome ? fmt::format("HTTP {}", outcome->status) : outcome.error().message, delay.count());
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, delay);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)ec;  // a cancelled sleep only shortens the wait
  }
}

asio::awaitable<Result<ObjectInfo>> S3Backend::put(std::string key, std::string bytes,
                                                   std::string content_type, Metadata metadata) {
  if (auto ok = check_metadata(metadata); !ok) co_return tl::unexpected(ok.error());
  Call call{{"PUT", key, {}, {}, std::move(bytes)}, describe("PUT", key)};
  if (!content_type.empty()) call.op.headers.emplace_back("Content-Type", content_type);
  for (const auto& [name, value] : metadata) {
    call.op.headers.emplace_back(fmt::format("{}{}", kMetaPrefix, name), value);
  }
  const std::uint64_t size = call.op.body.size();
  const TimePoint sent = now_();
  auto response = co_await perform(std::move(call));
  if (!response) co_return tl::unexpected(response.error());
  if (response->status / 100 != 2) {
    co_return tl::unexpected(s3::error_from_response(describe("PUT", key), *response));
  }
  // S3 answers a PUT with the ETag only; the other fields are what was sent.
  ObjectInfo info{key,
                  size,
                  std::move(content_type),
                  std::string(response->headers.get("ETag").value_or("")),
                  sent,
                  std::move(metadata)};
  co_return info;
}

asio::awaitable<Result<Object>> S3Backend::fetch(std::string method, std::string key) {
  const std::string what = describe(method, key);
  Call call{{std::move(method), key, {}, {}, {}}, what};
  auto response = co_await perform(std::move(call));
  if (!response) co_return tl::unexpected(response.error());
  if (response->status != 200) co_return tl::unexpected(s3::error_from_response(what, *response));
  auto info = s3::info_from_headers(std::move(key), response->headers);
  if (!info) {
    co_return tl::unexpected(
        Error{ErrorKind::kInternal, fmt::format("s3 {}: {}", what, info.error().message)});
  }
  co_return Object{std::move(*info), std::move(response->body)};
}

asio::awaitable<Result<Object>> S3Backend::get(std::string key) {
  co_return co_await fetch("GET", std::move(key));
}

asio::awaitable<Result<ObjectInfo>> S3Backend::head(std::string key) {
  auto object = co_await fetch("HEAD", std::move(key));
  if (!object) co_return tl::unexpected(object.error());
  co_return std::move(object->info);
}

asio::awaitable<Result<DeleteOutcome>> S3Backend::remove(std::vector<std::string> keys) {
  DeleteOutcome outcome;
  for (std::size_t start = 0; start < keys.size(); start += s3::kMaxDeleteBatch) {
    const std::vector<std::string> batch(
        keys.begin() + static_cast<std::ptrdiff_t>(start),
        keys.begin() +
            static_cast<std::ptrdiff_t>(std::min(keys.size(), start + s3::kMaxDeleteBatch)));
    Call call{{"POST", "", {{"delete", ""}}, {}, s3::delete_request_body(batch)},
              fmt::format("DeleteObjects of {} keys", batch.size())};
    call.op.headers = {{"Content-Type", "application/xml"},
                       {"Content-MD5", s3::content_md5(call.op.body)}};
    const std::string what = call.what;
    auto response = co_await perform(std::move(call));
    if (!response) co_return tl::unexpected(response.error());
    if (response->status != 200) {
      co_return tl::unexpected(s3::error_from_response(what, *response));
    }
    auto result = s3::parse_delete_result(response->body, batch);
    if (!result) {
      co_return tl::unexpected(
          Error{ErrorKind::kInternal, fmt::format("s3 {}: {}", what, result.error().message)});
    }
    for (auto& key : result->deleted) outcome.deleted.push_back(std::move(key));
    for (auto& failed : result->failed) outcome.failed.push_back(std::move(failed));
  }
  co_return outcome;
}

asio::awaitable<Result<Listing>> S3Backend::list(ListOptions options) {
  if (options.max_keys < 1 || options.max_keys > 1000) {
    co_return fail(ErrorKind::kInvalidArgument,
                   fmt::format("list: max_keys {} is not in 1..1000", options.max_keys));
  }
  Call call{
      {"GET", "", {{"list-type", "2"}, {"max-keys", std::to_string(options.max_keys)}}, {}, {}},
      fmt::format("ListObjectsV2 prefix '{}'", options.prefix)};
  if (!options.prefix.empty()) call.op.query.emplace_back("prefix", options.prefix);
  if (!options.delimiter.empty()) call.op.query.emplace_back("delimiter", options.delimiter);
  if (!options.token.empty()) call.op.query.emplace_back("continuation-token", options.token);
  const std::string what = call.what;
  auto response = co_await perform(std::move(call));
  if (!response) co_return tl::unexpected(response.error());
  if (response->status != 200) co_return tl::unexpected(s3::error_from_response(what, *response));
  auto listing = s3::parse_list_result(response->body);
  if (!listing) {
    co_return tl::unexpected(
        Error{ErrorKind::kInternal, fmt::format("s3 {}: {}", what, listing.error().message)});
  }
  co_return std::move(*listing);
}

Result<std::string> S3Backend::url(const std::string& key, TimePoint expires) const {
  if (!options_.public_url_template.empty()) {
    std::string out = options_.public_url_template;
    const auto at = out.find("{key}");
    if (at != std::string::npos) out.replace(at, 5, sigv4::uri_encode(key, true));
    return out;
  }
  const TimePoint now = now_();
  return s3::presigned_url(options_, key, now, (expires - now).count());
}

}  // namespace mando::storage
