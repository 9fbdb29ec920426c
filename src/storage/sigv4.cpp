#include "storage/sigv4.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <fmt/format.h>

#include "core/crypto.hpp"

namespace mando::storage::sigv4 {
namespace {

std::tm utc(TimePoint when) {
  const std::time_t t = when.time_since_epoch().count();
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  return tm;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trimmed, with every run of spaces or tabs inside collapsed to one space (SigV4's "Trimall").
std::string trim_all(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

struct CanonicalHeaders {
  std::string text;  // "name:value\n" per header
  std::string signed_names;
};

CanonicalHeaders canonical_headers(const Params& headers) {
  // Stable sort keeps duplicate names in arrival order; their values are joined with ','.
  std::vector<std::pair<std::string, std::string>> sorted;
  for (const auto& [name, value] : headers) sorted.emplace_back(lower(name), trim_all(value));
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0 && sorted[i].first == sorted[i - 1].first) {
      out.text.insert(out.text.size() - 1, "," + sorted[i].second);
      continue;
    }
    if (!out.signed_names.empty()) out.signed_names += ';';
    out.signed_names += sorted[i].first;
    out.text += fmt::format("{}:{}\n", sorted[i].first, sorted[i].second);
  }
  return out;
}

std::string scope_of(const Scope& scope, TimePoint when) {
  return fmt::format("{}/{}/{}/aws4_request", date_stamp(when), scope.region, scope.service);
}

std::string string_to_sign(const Scope& scope, TimePoint when, std::string_view canonical) {
  return fmt::format("{}\n{}\n{}\n{}", kAlgorithm, amz_date(when), scope_of(scope, when),
                     sha256_hex(canonical));
}

std::string signature_of(const Credentials& credentials, const Scope& scope, TimePoint when,
                         std::string_view to_sign) {
  const std::string date =
      core::hmac_sha256("AWS4" + credentials.secret_access_key, {date_stamp(when)});
  const std::string region = core::hmac_sha256(date, {scope.region});
  const std::string service = core::hmac_sha256(region, {scope.service});
  const std::string key = core::hmac_sha256(service, {"aws4_request"});
  return core::to_hex(core::hmac_sha256(key, {to_sign}));
}

std::string canonical_request(const Request& request, const std::string& query,
                              const CanonicalHeaders& headers) {
  return fmt::format("{}\n{}\n{}\n{}\n{}\n{}", request.method, request.path, query, headers.text,
                     headers.signed_names, request.payload_hash);
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~' ||
        (keep_slash && c == '/')) {
      out += c;
    } else {
      out += '%';
      out += kDigits[byte >> 4];
      out += kDigits[byte & 0x0f];
    }
  }
  return out;
}

std::string amz_date(TimePoint when) {
  const std::tm tm = utc(when);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string date_stamp(TimePoint when) { return amz_date(when).substr(0, 8); }

std::string sha256_hex(std::string_view data) { return core::to_hex(core::sha256(data)); }

std::string canonical_query(const Params& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(uri_encode(name, false), uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out += '&';
    out += name;
    out += '=';
    out += value;
  }
  return out;
}

Signature sign(const Credentials& credentials, const Scope& scope, const Request& request,
               TimePoint when) {
  Signature out;
  const CanonicalHeaders headers = canonical_headers(request.headers);
  out.signed_headers = headers.signed_names;
  out.canonical_request = canonical_request(request, canonical_query(request.query), headers);
  out.string_to_sign = string_to_sign(scope, when, out.canonical_request);
  out.signature = signature_of(credentials, scope, when, out.string_to_sign);
  out.authorization = fmt::format("{} Credential={}/{}, SignedHeaders={}, Signature={}", kAlgorithm,
                                  credentials.access_key_id, scope_of(scope, when),
                                  out.signed_headers, out.signature);
  return out;
}

Presigned presign(const Credentials& credentials, const Scope& scope, const Request& request,
                  TimePoint when, long expires_seconds) {
  const CanonicalHeaders headers = canonical_headers(request.headers);
  Params query = request.query;
  query.emplace_back("X-Amz-Algorithm", std::string(kAlgorithm));
  query.emplace_back("X-Amz-Credential",
                     fmt::format("{}/{}", credentials.access_key_id, scope_of(scope, when)));
  query.emplace_back("X-Amz-Date", amz_date(when));
  query.emplace_back("X-Amz-Expires", std::to_string(expires_seconds));
  if (!credentials.session_token.empty()) {
    query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  query.emplace_back("X-Amz-SignedHeaders", headers.signed_names);

  Request unsigned_payload = request;
  unsigned_payload.payload_hash = std::string(kUnsignedPayload);
  Presigned out;
  out.query = canonical_query(query);
  out.canonical_request = canonical_request(unsigned_payload, out.query, headers);
  out.string_to_sign = string_to_sign(scope, when, out.canonical_request);
  out.signature = signature_of(credentials, scope, when, out.string_to_sign);
  out.query += "&X-Amz-Signature=" + out.signature;
  return out;
}

}  // namespace mando::storage::sigv4
