#pragma once
// What /imagine shows: the provider's outputs as files mando can post, and the messages of a
// job (its progress line, its ending, its finished message). Plain functions of their inputs,
// so the tests read the exact payloads Discord gets.

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include "bot/jobs.hpp"
#include "core/error.hpp"
#include "imagine/job.hpp"
#include "net/fetcher.hpp"
#include "storage/blob_store.hpp"

namespace mando::bot::commands {

// One output, read and typed by its bytes (never by the provider's Content-Type).
struct OutputFile {
  std::string bytes;
  std::string content_type;  // image/png, image/jpeg, image/webp, image/gif, video/mp4, video/webm
  std::string extension;     // png, jpg, webp, gif, mp4, webm
  bool video = false;
};

// The type of `bytes` from their first bytes; kInvalidArgument "the provider sent a file that
// is neither an image nor a video" for anything else.
Result<OutputFile> typed_output(std::string bytes);

// An output: a data: URI (base64) as is, "blob:KEY" read from `blobs` (a synchronous
// provider's images, stored when they came), anything else downloaded through `fetcher` (the
// untrusted-URL policy: the provider names it). Errors: the fetcher's (kNotFound when the
// provider deleted it), the blob store's, typed_output()'s.
boost::asio::awaitable<Result<OutputFile>> fetch_output(net::Fetcher& fetcher,
                                                        storage::BlobStore& blobs, std::string url);

// "Imagining… in line at the provider (position 3)", "… generating 40 %", with a Cancel button
// whose custom_id is `cancel_id`, and the latest preview when the provider streams them.
boost::json::object progress_message(const imagine::JobState& state, std::string_view cancel_id);

// The sentence for a job that ended without outputs (failed, canceled, aborted): a failure
// carries the provider's own words, its safety verdict among them.
std::string ending_text(const imagine::JobState& state);

struct MessageParts {
  const ImagineJob& job;
  const std::vector<storage::BlobRef>& outputs;  // every output, stored
  std::string filename;                          // the attachment shown (the grid, or the one)
  bool video = false;
  std::string shown_url;  // set when the shown file is linked rather than uploaded
  std::string reroll_id;
  std::string delete_id;
  // One per output, in order; empty when the model offers none: V1.. (a variation of that
  // image), U1.. (that image upscaled).
  std::vector<std::string> variation_ids;
  std::vector<std::string> upscale_ids;
};

// The finished message: the prompt, model, seed and aspect named (so anyone can make it
// again), a link to every output, the shown file, the Re-roll and Delete buttons and, where the
// model offers them, a row of Variation and a row of Upscale buttons.
boost::json::object finished_message(const MessageParts& parts);

}  // namespace mando::bot::commands
