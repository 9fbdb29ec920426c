#include "bot/commands/transform_inputs.hpp"

#include <algorithm>
#include <set>
#include <string_view>

#include <boost/json/object.hpp>
#include <fmt/format.h>

namespace mando::bot::commands {

namespace json = boost::json;

namespace {

const json::object* object_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

std::string_view string_at(const json::object* o, std::string_view key) {
  if (o == nullptr) return {};
  const json::value* v = o->if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// Links separated by any run of spaces, tabs or newlines.
void split_links(std::string_view text, std::vector<std::string>& out) {
  constexpr std::string_view kSpace = " \t\r\n";
  for (auto begin = text.find_first_not_of(kSpace); begin != std::string_view::npos;
       begin = text.find_first_not_of(kSpace, begin)) {
    const auto end = std::min(text.find_first_of(kSpace, begin), text.size());
    out.emplace_back(text.substr(begin, end - begin));
    begin = end;
  }
}

Result<TransformRequest> checked(TransformRequest request, int max_inputs, bool menu) {
  if (request.urls.empty()) {
    return fail(ErrorKind::kInvalidArgument,
                menu ? "That message has no images to transform."
                     : "Give me at least one image: attach files (`image1` to `image10`) or paste "
                       "links in `urls`.");
  }
  if (request.urls.size() > static_cast<std::size_t>(max_inputs)) {
    return fail(
        ErrorKind::kInvalidArgument,
        fmt::format("At most {} images per transform (got {}).", max_inputs, request.urls.size()));
  }
  return request;
}

}  // namespace

std::string attachment_url(const discord::InteractionData& data, std::string_view id) {
  const json::object* attachments = object_at(data.resolved, "attachments");
  return std::string(string_at(attachments ? object_at(*attachments, id) : nullptr, "url"));
}

Result<TransformRequest> transform_request(const discord::Options& options,
                                           const discord::InteractionData& data, int max_inputs) {
  TransformRequest request;
  if (auto urls = options.get_string("urls")) split_links(*urls, request.urls);
  for (int n = 1; n <= kAttachmentOptions; ++n) {
    auto id = options.get_string(fmt::format("image{}", n));
    if (!id) continue;
    // Discord sends every attachment option's file in data.resolved; one without is not a file
    // we can name to the user, so it is refused rather than skipped.
    std::string url = attachment_url(data, *id);
    if (url.empty()) {
      return fail(ErrorKind::kInvalidArgument,
                  fmt::format("Discord did not send the file of `image{}`; please try again.", n));
    }
    request.urls.push_back(std::move(url));
  }
  request.size = static_cast<int>(options.get_int("size", kDefaultTransformSize));
  request.crop = options.get_string("crop", "attention");
  request.format = options.get_string("format", "jpeg");
  return checked(std::move(request), max_inputs, false);
}

Result<TransformRequest> menu_transform_request(const discord::InteractionData& data,
                                                int max_inputs) {
  TransformRequest request;
  const json::object* messages = object_at(data.resolved, "messages");
  const json::object* message = messages ? object_at(*messages, data.target_id) : nullptr;
  if (message == nullptr) {
    return fail(ErrorKind::kInvalidArgument,
                "Discord did not send that message's content; please try again.");
  }
  // A message's embed may show one of its own attachments (attachment://name, which Discord
  // resolves to the attachment's URLs): that picture is taken once.
  std::set<std::string_view> attached;
  if (const json::value* list = message->if_contains("attachments"); list && list->is_array()) {
    for (const json::value& a : list->get_array()) {
      const json::object* attachment = a.if_object();
      const std::string_view type = string_at(attachment, "content_type");
      if (!type.empty() && !type.starts_with("image/")) continue;  // a PDF, a video: not ours
      if (std::string_view url = string_at(attachment, "url"); !url.empty()) {
        request.urls.emplace_back(url);
        attached.insert(url);
        attached.insert(string_at(attachment, "proxy_url"));
      }
    }
  }
  if (const json::value* list = message->if_contains("embeds"); list && list->is_array()) {
    for (const json::value& e : list->get_array()) {
      const json::object* embed = e.if_object();
      if (embed == nullptr) continue;
      // A rich embed's picture is `image`; a posted link to a picture is type "image" with the
      // picture in `thumbnail`.
      const json::object* picture = object_at(*embed, "image");
      if (picture == nullptr && string_at(embed, "type") == "image") {
        picture = object_at(*embed, "thumbnail");
      }
      if (attached.contains(string_at(picture, "url"))) continue;
      std::string_view url = string_at(picture, "proxy_url");
      if (url.empty()) url = string_at(picture, "url");
      if (!url.empty() && !attached.contains(url)) request.urls.emplace_back(url);
    }
  }
  return checked(std::move(request), max_inputs, true);
}

}  // namespace mando::bot::commands
