#pragma once
// What a /transform or "Transform images" interaction asks for, read at the ingress: the image
// addresses in the user's order, and the output options. Nothing is downloaded here; the worker
// checks every address against the fetch policy (net/url_policy.hpp).
//
//   /transform   `urls` (links separated by spaces or newlines) first, then the attachments of
//                `image1` ... `image10` (data.resolved.attachments), so "image 3" in a reply is
//                the third of those in that order;
//   menu         the attachments of the message it is used on, then the images of its embeds
//                (Discord's proxy address when it has one: always https, and fetched from
//                Discord rather than from the site that was linked).

#include <string>
#include <vector>

#include "core/error.hpp"
#include "discord/command_registry.hpp"
#include "discord/interaction.hpp"

namespace mando::bot::commands {

inline constexpr int kAttachmentOptions = 10;  // image1 ... image10
inline constexpr int kDefaultTransformSize = 512;
inline constexpr int kMinTransformSize = 64;
inline constexpr int kMaxTransformSize = 2048;

struct TransformRequest {
  std::vector<std::string> urls;
  int size = kDefaultTransformSize;
  std::string crop = "attention";
  std::string format = "jpeg";
};

// The URL of the file attachment option `id` names (data.resolved.attachments), empty when
// Discord sent none.
std::string attachment_url(const discord::InteractionData& data, std::string_view id);

// From the options of /transform. kInvalidArgument with the sentence for the user: no image,
// more than `max_inputs`.
Result<TransformRequest> transform_request(const discord::Options& options,
                                           const discord::InteractionData& data, int max_inputs);

// From the target message of the "Transform images" menu command, with the default options.
Result<TransformRequest> menu_transform_request(const discord::InteractionData& data,
                                                int max_inputs);

}  // namespace mando::bot::commands
