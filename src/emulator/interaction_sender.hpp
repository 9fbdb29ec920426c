#pragma once
// Sending interactions the way Discord does: the body Discord would POST for a registered
// interaction, and the signed request that carries it (Ed25519 over X-Signature-Timestamp +
// body, Discord's User-Agent, the 3 s answer deadline). What the bot answers is the message
// model's business (MessageModel::apply_response).
//
// InteractionSigner owns the Ed25519 key pair (wiped on destruction); it is immutable after
// construction, so every member may be called from any thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <sodium.h>

#include "emulator/message_model.hpp"
#include "net/http_client.hpp"

namespace mando::emulator {

class InteractionSigner {
 public:
  // `seed_hex`: a 32-byte Ed25519 seed as 64 hex digits; empty or malformed: a random key (the
  // latter logged as a warning).
  explicit InteractionSigner(std::string_view seed_hex);
  ~InteractionSigner();
  InteractionSigner(const InteractionSigner&) = delete;
  InteractionSigner& operator=(const InteractionSigner&) = delete;

  std::string public_key_hex() const;  // what the bot configures as [discord] public_key
  // The hex X-Signature-Ed25519 of `timestamp` + `body`.
  std::string sign(std::string_view timestamp, std::string_view body) const;

 private:
  unsigned char public_key_[crypto_sign_PUBLICKEYBYTES]{};
  unsigned char secret_key_[crypto_sign_SECRETKEYBYTES]{};
};

// The interaction object Discord sends for `rec` (already opened: id and token set), over
// `extra` (what the type adds: "data", and "message" for components): guild member or DM
// user, channel, context, locale, permissions and attachment_size_limit.
boost::json::object interaction_body(const InteractionRecord& rec, boost::json::object extra,
                                     std::string_view application_id,
                                     std::int64_t attachment_size_limit);

// The POST of `body` to `url`, signed now by `signer`, with `timeout` for the whole answer.
net::ClientRequest signed_interaction_request(const InteractionSigner& signer, std::string url,
                                              std::string body, std::chrono::milliseconds timeout);

}  // namespace mando::emulator
