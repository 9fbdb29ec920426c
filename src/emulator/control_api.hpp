#pragma once
// The emulator's control API under /_emulator/: what tests, the load benchmark and the web
// page drive the emulator with. JSON, no authentication: bind the emulator to loopback.
//
//   POST /_emulator/interactions  {"text": "/mando symmetry:12"} or {"name", "options"},
//                                 optional "user_id", "guild_id", "dm"; "target_id": a message
//                                 command ({"name": "Transform images", "target_id": MESSAGE})
//   POST /_emulator/uploads?filename=NAME  the file as the body (its Content-Type kept)
//                                 -> the attachment object; an attachment option (type 11)
//                                 names it by "id"
//                                 -> {"interaction_id", "token", "response_status", "response",
//                                     "message_id", "failed", "failure"?}; 502 when failed
//   POST /_emulator/click         {"message_id", "custom_id", "user_id"?} -> the same
//   GET  /_emulator/messages      -> {"messages": [...]} oldest first
//   GET  /_emulator/messages/{id}[?after_version=N&timeout_ms=T]  (long poll, T <= 30000)
//   GET  /_emulator/events?after=CURSOR&timeout_ms=T  (long poll, T <= 30000)
//                                 -> {"cursor", "messages": [...], "more", "reset"}: every
//                                 message changed after CURSOR (deleted ones with "deleted"),
//                                 at most 100 an answer ("more": ask again at once); answered
//                                 at once when there is a change, else at T with none. Start
//                                 at 0; "reset": the cursor was from another emulator run
//   GET  /_emulator/wait?messages=K&timeout_ms=T -> {"ready", "completed", "loading"}
//   GET  /_emulator/attachments/{id}/{filename}  -> the bytes
//   POST /_emulator/faults        {"method", "route", "count", "status", "retry_after"},
//                                 {"kind": "automod", "count", "method"?, "route"?} (400, code
//                                 200000: AutoMod blocked the message), or {"delay_ms", "count"}
//   POST /_emulator/settings      {"attachment_size_limit": bytes}
//   POST /_emulator/expire        {"interaction_id"}
//   GET  /_emulator/stats         -> DiscordEmulator::stats()
//   GET  /_emulator/info          -> {"application_id", "public_key", "api_prefix", "bot_url",
//                                     "attachment_size_limit"}
//   GET  /_emulator/commands      -> the registered commands
//
// Errors: {"error": {"code", "message"}} (net::Response::json_error), 400 for a bad body, 404
// for an unknown route, message or interaction. Long polls hold no thread (EmulatorCore's
// waits) and answer at once once the emulator stops.

#include <memory>

#include <boost/asio/awaitable.hpp>

#include "emulator/emulator_core.hpp"
#include "net/http_message.hpp"

namespace mando::emulator {

// The most messages one /_emulator/events answer carries.
inline constexpr std::size_t kMaxEventsPerAnswer = 100;

boost::asio::awaitable<net::Response> handle_control(std::shared_ptr<EmulatorCore> core,
                                                     net::Request request);

}  // namespace mando::emulator
