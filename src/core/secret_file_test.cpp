#include "core/secret_file.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

namespace mando::core {
namespace {

namespace fs = std::filesystem;

class SecretFileTest : public ::testing::Test {
 protected:
  SecretFileTest() {
    dir_ = fs::temp_directory_path() /
           ("mando-secret-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  ~SecretFileTest() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SecretFileTest, CreatesAnOwnerOnlySecretOnceAndReadsItBack) {
  auto created = read_or_create_secret_file(dir_ / "api_token");
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "api_token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = read_or_create_secret_file(dir_ / "api_token");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *created);
  EXPECT_EQ(read_secret_file(dir_ / "api_token").value(), *created);
  // Nothing is left behind but the secret itself.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SecretFileTest, ASecretOthersMayReadIsRefused) {
  std::ofstream(dir_ / "token") << "hunter2\n";
  fs::permissions(dir_ / "token", fs::perms::owner_read | fs::perms::owner_write |
                                      fs::perms::group_read | fs::perms::others_read);
  auto read = read_secret_file(dir_ / "token");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::kPermissionDenied);
  EXPECT_NE(read.error().message.find("chmod 600"), std::string::npos);
  EXPECT_FALSE(read_or_create_secret_file(dir_ / "token")) << "never replaced behind the owner";
}

TEST_F(SecretFileTest, MissingAndEmptyFilesAreTold) {
  EXPECT_EQ(read_secret_file(dir_ / "none").error().kind, ErrorKind::kNotFound);
  std::ofstream(dir_ / "empty") << " \n";
  fs::permissions(dir_ / "empty", fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(read_secret_file(dir_ / "empty").error().kind, ErrorKind::kInvalidArgument);
  std::ofstream(dir_ / "padded") << "  s3cret \n";
  fs::permissions(dir_ / "padded", fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(read_secret_file(dir_ / "padded").value(), "s3cret");
}

}  // namespace
}  // namespace mando::core
