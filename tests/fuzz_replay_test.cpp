// Replays a fuzz target's entry point over its seed corpus (tests/data/MANDO_FUZZ_CORPUS) and a
// few hostile inputs, so the debug suite (ASan + UBSan) exercises every fuzz target on every run
// without clang.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/test_data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int feed(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

TEST(FuzzReplay, SeedCorpusRunsClean) {
  auto dir = mando::testing::test_data_dir() / MANDO_FUZZ_CORPUS;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    // JSON bodies, and plain text for text formats (render specs).
    if (entry.path().extension() != ".json" && entry.path().extension() != ".txt") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    EXPECT_EQ(feed(std::string(std::istreambuf_iterator<char>(in), {})), 0) << entry.path();
    ++files;
  }
  EXPECT_GE(files, 4);
}

TEST(FuzzReplay, HostileInputsRunClean) {
  for (const std::string& input :
       {std::string(), std::string("{"), std::string(10000, '['), std::string("\0\xff\xfe", 3),
        std::string(
            R"({"type":2,"data":{"name":"x","options":[{"name":"a","type":4,"value":1e999}]}})"),
        std::string(R"({"type":2,"data":{"options":[{"options":[{"options":[]}]}]}})")}) {
    EXPECT_EQ(feed(input), 0);
  }
}

}  // namespace
