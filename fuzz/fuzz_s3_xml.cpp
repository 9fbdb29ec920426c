// Fuzzes the readers of S3's XML answers (ListObjectsV2, DeleteObjects, errors): whatever a
// server sends, they answer a value or an error without crashing, and a delete outcome never
// reports as deleted a key that was not asked for.

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "storage/s3_backend.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mando::storage;
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  (void)s3::parse_error_body(xml);
  if (auto listing = s3::parse_list_result(xml)) {
    for (const auto& object : listing->objects) check(object.key.size() <= size);
  }
  const std::vector<std::string> keys{"a", "b/c"};
  if (auto outcome = s3::parse_delete_result(xml, keys)) {
    const std::set<std::string> asked(keys.begin(), keys.end());
    for (const auto& key : outcome->deleted) check(asked.contains(key));
  }
  return 0;
}
