#include "imagine/job_rows.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace mando::imagine::job_rows {

namespace json = boost::json;

std::string outputs_json(const std::vector<std::string>& outputs) {
  json::array array;
  for (const auto& output : outputs) array.emplace_back(output);
  return json::serialize(array);
}

Result<std::vector<std::string>> parse_outputs(std::string_view text) {
  boost::system::error_code ec;
  const json::value value = json::parse(text, ec);
  std::vector<std::string> outputs;
  if (!ec && value.is_array()) {
    for (const auto& item : value.as_array()) {
      if (!item.is_string()) break;
      outputs.emplace_back(item.as_string());
    }
    if (outputs.size() == value.as_array().size()) return outputs;
  }
  return fail(ErrorKind::kInternal, "imagine store: corrupt outputs column");
}

Error not_found(std::string_view job_id) {
  return Error{ErrorKind::kNotFound, fmt::format("imagine job {} not found", job_id)};
}

}  // namespace mando::imagine::job_rows
