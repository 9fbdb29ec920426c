#pragma once
// The emulator's state and message model: interactions, their tokens, the messages and
// attachments they produced, the registered commands, and the rules Discord applies to them.
//
// The life of a message:
//   1. open_interaction() registers an interaction (snowflake id of now, random token, expiry).
//   2. apply_response() applies the bot's interaction response (4 posts a message, 5 posts the
//      "@original" in its loading state, 6/7 act on the component's message, 9 records a modal);
//      anything else fails the interaction, with the reason Discord's client would not show.
//   3. apply_payload() applies a webhook create or edit (content, embeds, components, flags,
//      attachments with v10's keep-by-id rule), validated as Discord validates it; the first
//      non-loading state stamps completed_ms.
//   4. Every change of a message (creation, edit, deletion) gives it the next sequence number,
//      so changes_since(cursor) answers every message changed after a cursor, each once, in
//      the order of their latest change: the page's one update stream.
//
// Not thread-safe: the emulator calls it under its one mutex. No I/O.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "emulator/emulator_types.hpp"
#include "emulator/multipart.hpp"
#include "emulator/png_info.hpp"
#include "emulator/wire.hpp"

namespace mando::emulator {

struct StoredAttachment {
  std::string id;
  std::string filename;
  std::string content_type;
  std::string description;
  std::shared_ptr<const std::string> data;
  std::optional<PngSize> png;
};

struct Message {
  std::string id;
  std::string channel_id;
  std::string interaction_id;
  int type = 20;  // 20 CHAT_INPUT_COMMAND reply, 19 REPLY (follow-ups)
  std::string content;
  boost::json::array embeds;
  boost::json::array components;
  std::vector<std::string> attachments;  // ids into the model's attachments
  std::int64_t flags = 0;
  std::int64_t timestamp_ms = 0;
  std::int64_t edited_ms = 0;  // 0: never edited
  std::int64_t version = 1;
  std::int64_t interaction_ms = 0;
  std::optional<std::int64_t> completed_ms;
  bool deleted = false;
  int blocked_edits = 0;  // edits AutoMod refused (an injected fault): shown by the page
  std::uint64_t seq = 0;  // the model's sequence number of its latest change
  boost::json::object interaction_metadata;
  boost::json::object legacy_interaction;  // the deprecated `interaction` field
};

struct InteractionRecord {
  std::string id;
  std::string token;
  int type = 2;
  std::string name;  // command name
  std::string user_id;
  std::string channel_id;
  std::string guild_id;  // empty in DMs
  boost::json::object authorizing_integration_owners;
  std::string component_message_id;  // MESSAGE_COMPONENT: the message the component is on
  std::int64_t created_ms = 0;
  std::chrono::steady_clock::time_point expires_at{};
  bool in_flight = false;  // the POST to the bot has not been answered yet
  bool acknowledged = false;
  bool failed = false;
  int response_type = 0;
  std::string original_message_id;  // "@original", once there is one
  boost::json::object modal;        // a type 9 answer
};

// A message body from a webhook or callback request: payload_json (or the JSON body) and the
// files[N] parts by N.
struct Payload {
  boost::json::object object;
  std::map<int, FormPart> files;
};

// What changes_since() answers.
struct Changes {
  boost::json::array messages;  // message_json(..., true), deleted ones included
  std::uint64_t cursor = 0;     // pass it back to get what changed next
  bool more = false;            // `limit` cut the answer: ask again at once
  // The cursor was ahead of the model (a page that outlived an emulator restart): the answer
  // starts from the beginning, and the reader should drop what it shows.
  bool reset = false;
};

class MessageModel {
 public:
  MessageModel(std::string application_id, std::chrono::seconds token_lifetime);

  // The base of attachment URLs ("http://127.0.0.1:9000"). An explicit URL wins over one
  // learnt from a Host header.
  void set_public_url(std::string url, bool explicit_url);
  bool public_url_explicit() const { return public_url_explicit_; }

  // Ids with Discord's layout (time since the Discord epoch, worker 1, an increment).
  std::string next_snowflake();

  // 1. Gives `rec` an id, a token and its expiry, marks it in flight and keeps it.
  InteractionRecord& open_interaction(InteractionRecord rec);
  InteractionRecord* interaction(std::string_view id);
  // The interaction a token opens: nullptr with the error Discord answers (unknown webhook for
  // another application or an unknown token, invalid token once expired).
  InteractionRecord* token_interaction(std::string_view application_id, std::string_view token,
                                       std::chrono::steady_clock::time_point now, RestError& error);
  // True while the bot's answer to the interaction POST of `token` is on its way.
  bool token_in_flight(std::string_view token) const;
  bool expire(std::string_view interaction_id, std::chrono::steady_clock::time_point now);

  // 2. The failure reason, empty when the response was valid.
  std::string apply_response(InteractionRecord& rec, const boost::json::value& response,
                             const std::map<int, FormPart>& files);
  void fail_interaction(InteractionRecord& rec, std::string_view reason);

  // 3. Applies a create (create = true) or an edit to `m`; on error `m` is unchanged.
  std::optional<RestError> apply_payload(Message& m, const boost::json::object& p,
                                         const std::map<int, FormPart>& files, bool create);
  // A new message of interaction `rec`: 20 the reply, 19 a follow-up.
  Message& new_message(InteractionRecord& rec, int type);
  Message* find_message(std::string_view id);  // nullptr when unknown or deleted
  void delete_message(Message& m);
  // An edit of `m` was refused by AutoMod: Discord's client shows nothing, the page says so.
  void note_blocked_edit(Message& m);
  // Discord's message object; `extras` adds the emulator's "version", "interaction_id",
  // "created_ms", "completed_ms", "deleted" and "blocked_edits".
  boost::json::object message_json(const Message& m, bool extras) const;
  boost::json::array messages_json() const;  // not deleted, oldest first
  std::optional<boost::json::object> message_json(std::string_view id) const;  // deleted too
  std::optional<std::int64_t> version(std::string_view id) const;              // nullopt: unknown
  bool deleted(std::string_view id) const;
  const StoredAttachment* attachment(std::string_view id) const;
  // A file a user attaches to a command option: Discord's client uploads it before it sends the
  // interaction, which names it by id. Kept like any attachment (its URL serves it); answers
  // the attachment object that data.resolved.attachments carries.
  boost::json::object add_upload(const FormPart& file);
  // That object for an id add_upload() answered, or for the latest upload of that file name
  // (what a command typed as text names: `image1:cat.png`), marked ephemeral as Discord marks
  // files of command options; nullopt when no upload matches.
  std::optional<boost::json::object> upload_json(std::string_view id_or_filename) const;

  // 4. At most `limit` messages changed after `cursor` (limit > 0).
  Changes changes_since(std::uint64_t cursor, std::size_t limit) const;
  std::uint64_t cursor() const { return seq_; }

  // PUT .../commands: validates and stores the list, answering what Discord answers.
  Result<boost::json::array> put_commands(const boost::json::value& body, RestError& error);
  const boost::json::array& commands() const { return commands_; }
  // The id of command `name`: the registered one, or a stable id for an unregistered name.
  std::string command_id(const std::string& name);

  std::size_t completed() const;  // messages not deleted and not loading
  // {"interactions": {"sent", "failed", "by_response_type"}, "messages": {"completed",
  // "loading"}}
  boost::json::object stats() const;

 private:
  boost::json::object attachment_json(const StoredAttachment& a) const;
  StoredAttachment store_file(const FormPart& part, std::string filename, std::string description);
  void touch(Message& m);

  const std::string application_id_;
  const std::chrono::seconds token_lifetime_;
  std::string public_url_;
  bool public_url_explicit_ = false;
  std::int64_t last_snowflake_ms_ = 0;
  std::uint64_t increment_ = 0;
  std::map<std::string, InteractionRecord, std::less<>> interactions_;
  std::map<std::string, std::string, std::less<>> tokens_;  // token -> interaction id
  std::map<std::string, Message, std::less<>> messages_;
  std::vector<std::string> order_;  // message ids, oldest first
  std::map<std::string, StoredAttachment, std::less<>> attachments_;
  std::vector<std::string> uploads_;  // attachments_ ids of add_upload(), oldest first
  boost::json::array commands_;
  std::map<std::string, std::string> unregistered_command_ids_;
  std::uint64_t seq_ = 0;
  std::map<std::uint64_t, std::string> by_seq_;  // latest change -> message id
  std::int64_t interactions_sent_ = 0;
  std::int64_t interactions_failed_ = 0;
  std::map<int, std::int64_t> responses_by_type_;
};

}  // namespace mando::emulator
