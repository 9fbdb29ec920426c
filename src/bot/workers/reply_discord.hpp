#pragma once
// Worker route `reply-discord` (queue reply-discord): edits an interaction's original response
// into the finished message, the image uploaded from the blob store as an attachment.
//
// One attempt (finisher.hpp has the timeline and the failure lines):
//   1. The token expired (10 s before its 15 minutes): dropped, nothing sent; or, for a job
//      that asks (post_late, /imagine) where the bot may post in the interaction's channel, a
//      new message there mentioning the user (posted_late; late_dropped when Discord refuses).
//   2. Past [bot] give_up_after: "this took too long" instead of the picture (not for a job
//      that asks post_late: its result replaces the give-up line while the token lives).
//   3. The file is read from the blob store. Gone: "the picture was lost". Unavailable: 503.
//      Larger than the interaction's attachment_size_limit: the message shows the blob's link
//      instead, saying why (or, without a link, "too large"); nothing over the limit is sent.
//      The extra files follow as long as all of them together stay within the limit.
//   4. PATCH @original. Discord answers
//        2xx       delivered;
//        413       the file after all: once more in the link form, as in 3;
//        401, 404  the token or message is gone: dropped;
//        other 4xx refused (AutoMod's 400 code 200000, ...): "Discord refused the picture";
//        5xx, transport errors, 429s beyond the REST client's retries: 503, the queue retries;
//                  past the give-up point, one failure line instead (step 2).
// What the queue gets back: 200 for every end (counted in mando_discord_replies_total{outcome}:
// delivered, delivered_link, gave_up, rejected, blob_missing, too_large, token_expired,
// token_invalid, notice_refused, posted_late, late_dropped), 400 for a malformed body (retried,
// then kept as a dead letter), 503 to be retried. Delivering twice is harmless: a PATCH of the same
// message.

#include <boost/asio/awaitable.hpp>

#include "bot/finisher.hpp"
#include "discord/rest_client.hpp"
#include "net/http_message.hpp"
#include "storage/blob_store.hpp"

namespace mando::bot {

struct ReplyJob;

// The message of `job` turned to show its file from `job.url` rather than as an upload, saying
// why. Every reference to attachment://FILENAME becomes the URL.
boost::json::object link_form(const ReplyJob& job);

class ReplyWorker {
 public:
  // Everything must outlive the worker.
  ReplyWorker(discord::RestClient& discord, storage::BlobStore& blobs, Finisher& finish);

  boost::asio::awaitable<net::Response> handle(net::Request request);

 private:
  boost::asio::awaitable<net::Response> post_late(ReplyJob job);
  boost::asio::awaitable<void> add_extra_files(ReplyJob& job,
                                               std::vector<discord::Attachment>& files);
  // Step 4's answer to an edit that failed.
  boost::asio::awaitable<net::Response> refused(DiscordTarget target, Error error);

  discord::RestClient& discord_;
  storage::BlobStore& blobs_;
  Finisher& finish_;
};

}  // namespace mando::bot
