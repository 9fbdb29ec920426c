#include "core/file_lock.hpp"

#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>

namespace mando::core {
namespace {

class FileLockTest : public ::testing::Test {
 protected:
  FileLockTest() {
    dir_ = std::filesystem::temp_directory_path() /
           ("mando-file-lock-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~FileLockTest() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(FileLockTest, ASecondHolderIsRefusedWithThePidOfTheFirst) {
  auto first = FileLock::acquire(dir_ / "store.lock");
  ASSERT_TRUE(first) << first.error().message;
  auto second = FileLock::acquire(dir_ / "store.lock");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::kFailedPrecondition);
  EXPECT_NE(second.error().message.find(fmt::format("(pid {})", getpid())), std::string::npos)
      << second.error().message;
}

TEST_F(FileLockTest, TheLockIsFreeAgainOnceItsHolderIsGone) {
  {
    auto first = FileLock::acquire(dir_ / "store.lock");
    ASSERT_TRUE(first);
    FileLock moved = std::move(*first);  // a moved-from lock releases nothing
    EXPECT_FALSE(FileLock::acquire(dir_ / "store.lock"));
  }
  EXPECT_TRUE(FileLock::acquire(dir_ / "store.lock"));
}

TEST_F(FileLockTest, AnUnopenableFileIsUnavailable) {
  auto lock = FileLock::acquire(dir_ / "missing-dir" / "store.lock");
  ASSERT_FALSE(lock);
  EXPECT_EQ(lock.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace mando::core
