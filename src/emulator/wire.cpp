#include "emulator/wire.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <iterator>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace mando::emulator {

namespace json = boost::json;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_time(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (ms % 1000) * 1000);
}

Result<std::int64_t> to_int(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.as_uint64());
  }
  return fail(ErrorKind::kInvalidArgument, "not an integer");
}

json::object user_object(std::string_view id) {
  const bool is_default = id == kDefaultUserId;
  const std::string username =
      is_default ? "tester" : "user" + std::string(id.substr(id.size() > 4 ? id.size() - 4 : 0));
  return json::object{{"avatar", nullptr},
                      {"avatar_decoration_data", nullptr},
                      {"clan", nullptr},
                      {"discriminator", "0"},
                      {"global_name", is_default ? "Tester" : username},
                      {"id", id},
                      {"public_flags", 0},
                      {"username", username}};
}

RestError form_error(std::initializer_list<std::string_view> path, std::string_view code,
                     std::string_view message) {
  json::object leaf{{"_errors", json::array{json::object{{"code", code}, {"message", message}}}}};
  json::value node = std::move(leaf);
  for (auto it = std::rbegin(path); it != std::rend(path); ++it) {
    node = json::object{{*it, std::move(node)}};
  }
  RestError error{400, 50035, "Invalid Form Body", {}};
  error.errors = std::move(node.as_object());
  return error;
}

RestError unknown_webhook() { return {404, 10015, "Unknown Webhook", {}}; }
RestError unknown_message() { return {404, 10008, "Unknown Message", {}}; }
RestError invalid_token() { return {401, 50027, "Invalid Webhook Token", {}}; }
RestError invalid_json() { return {400, 50109, "The request body contains invalid JSON.", {}}; }
RestError empty_message() { return {400, 50006, "Cannot send an empty message", {}}; }
RestError entity_too_large() { return {413, 40005, "Request entity too large", {}}; }
RestError automod_blocked() {
  return {400, 200000, "Message was blocked by automatic moderation", {}};
}

net::Response error_response(const RestError& error) {
  json::object body{{"message", error.message}, {"code", error.code}};
  if (!error.errors.empty()) body["errors"] = error.errors;
  return net::Response::json(error.status, json::serialize(body));
}

}  // namespace mando::emulator
