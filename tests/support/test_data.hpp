#pragma once
// The files of tests/data: Discord payloads, Cloud Tasks bodies. CTest passes the folder's path
// in MANDO_TEST_DATA (see mando_test() in the top CMakeLists.txt).

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace mando::testing {

inline std::filesystem::path test_data_dir() {
  const char* root = std::getenv("MANDO_TEST_DATA");
  EXPECT_NE(root, nullptr) << "MANDO_TEST_DATA is not set (run the test through ctest)";
  return root != nullptr ? root : ".";
}

// The whole file `relative` ("discord/ping.json"), or "" with a test failure when it is missing.
inline std::string read_test_data(const std::filesystem::path& relative) {
  std::ifstream in(test_data_dir() / relative, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing test data " << relative;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace mando::testing
