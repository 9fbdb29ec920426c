#pragma once
// Plain HTTP request and response values shared by the server, the router, the outbound client
// and every handler. They hold no sockets and no Beast types, so handlers are plain functions
// over data that tests call directly.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace mando::net {

// Header fields in arrival order. Names compare case-insensitively (RFC 9110 §5.1).
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // The first value of `name`, if present.
  std::optional<std::string_view> get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  // Replaces every field called `name` with one field.
  void set(std::string_view name, std::string_view value);
  // Appends a field, keeping any existing ones (Set-Cookie-like fields).
  void add(std::string_view name, std::string_view value);
  void remove(std::string_view name);
  void reserve(std::size_t fields) { fields_.reserve(fields); }

  const std::vector<Field>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

bool iequals(std::string_view a, std::string_view b);

// The ErrorKind of an HTTP error status from a peer: 401 kUnauthenticated, 403
// kPermissionDenied, 404 kNotFound, 429 kResourceExhausted, 5xx kUnavailable, any other
// kInvalidArgument.
ErrorKind error_kind_for_status(int status);

struct Request {
  std::string method;  // upper case, e.g. "GET"
  std::string target;  // as sent: path plus optional "?query"
  Headers headers;
  std::string body;
  std::string remote;  // "ip:port" of the peer, for logs

  std::string_view path() const;   // target up to '?'
  std::string_view query() const;  // after '?', empty when absent
  // The value of query parameter `name`, percent-decoded; nullopt when absent.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Set by the server when it will close the connection after this response.
  bool close = false;

  static Response text(int status, std::string body);
  static Response json(int status, std::string body);
  // {"error":{"code":status,"message":message}}: the shape every API error of mando has.
  static Response json_error(int status, std::string_view message);
};

}  // namespace mando::net
