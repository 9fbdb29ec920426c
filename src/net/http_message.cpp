#include "net/http_message.hpp"

#include <algorithm>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/decode_view.hpp>
#include <boost/url/params_view.hpp>

namespace mando::net {

// ASCII case folding only: field names are tokens (RFC 9110 §5.1), and std::tolower would follow
// the process's locale (and costs a call per byte).
bool iequals(std::string_view a, std::string_view b) {
  constexpr auto fold = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return fold(x) == fold(y); });
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

void Headers::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

void Headers::add(std::string_view name, std::string_view value) {
  fields_.emplace_back(std::string(name), std::string(value));
}

void Headers::remove(std::string_view name) {
  std::erase_if(fields_, [&](const Field& f) { return iequals(f.first, name); });
}

std::string_view Request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view Request::query() const {
  std::string_view t = target;
  auto q = t.find('?');
  return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  // Boost.URL's params_view reads an empty string_view's null data pointer: answer it here.
  if (query().empty()) return std::nullopt;
  boost::urls::params_view params(query());
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return std::string((*it).value);
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

Response Response::json_error(int status, std::string_view message) {
  boost::json::value v = {{"error", {{"code", status}, {"message", message}}}};
  return json(status, boost::json::serialize(v));
}

ErrorKind error_kind_for_status(int status) {
  switch (status) {
    case 401:
      return ErrorKind::kUnauthenticated;
    case 403:
      return ErrorKind::kPermissionDenied;
    case 404:
      return ErrorKind::kNotFound;
    case 429:
      return ErrorKind::kResourceExhausted;
    default:
      return status >= 500 ? ErrorKind::kUnavailable : ErrorKind::kInvalidArgument;
  }
}

}  // namespace mando::net
