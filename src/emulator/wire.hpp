#pragma once
// Discord's wire shapes shared by the emulator's parts: ids, times, users and the JSON errors
// of the REST API ({"message", "code", "errors"?}, see Discord's "JSON error codes").
// Pure functions over values: thread-safe, no I/O.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/error.hpp"
#include "core/utf8.hpp"
#include "discord/snowflake.hpp"
#include "net/http_message.hpp"

namespace mando::emulator {

inline constexpr std::int64_t kDiscordEpochMs = 1420070400000;
inline constexpr std::int64_t kEphemeralFlag = 64;
inline constexpr std::int64_t kLoadingFlag = 128;
inline constexpr std::int64_t kSuppressEmbedsFlag = 4;
inline constexpr std::int64_t kSuppressNotificationsFlag = 4096;
inline constexpr std::string_view kDefaultUserId = "1180000000000000060";
inline constexpr std::string_view kDefaultGuildId = "1180000000000000020";
inline constexpr std::string_view kGuildChannelId = "1180000000000000030";
inline constexpr std::string_view kDmChannelId = "1180000000000000031";

std::int64_t unix_ms();
// Discord's ISO 8601 form: "2026-11-22T06:00:00.000000+00:00".
std::string iso_time(std::int64_t ms);
// Decimal digits only, at most 20: what a snowflake (or a small index) looks like.
using discord::is_snowflake;
// UTF-8 code points: Discord's length limits count characters, not bytes.
using core::code_points;
// A JSON integer as int64 (kInvalidArgument for anything else).
Result<std::int64_t> to_int(const boost::json::value& v);
// The user object of `id` ("tester" for the default user).
boost::json::object user_object(std::string_view id);

// A REST error as Discord answers it.
struct RestError {
  int status = 400;
  int code = 0;
  std::string message;
  boost::json::object errors;  // for 50035 Invalid Form Body
};

// 50035 Invalid Form Body with one error at `path` ({"a": {"0": {"_errors": [...]}}}).
RestError form_error(std::initializer_list<std::string_view> path, std::string_view code,
                     std::string_view message);
RestError unknown_webhook();   // 404 10015
RestError unknown_message();   // 404 10008
RestError invalid_token();     // 401 50027
RestError invalid_json();      // 400 50109
RestError empty_message();     // 400 50006
RestError entity_too_large();  // 413 40005, an attachment over attachment_size_limit
RestError automod_blocked();   // 400 200000, AutoMod blocked the message

net::Response error_response(const RestError& error);

}  // namespace mando::emulator
