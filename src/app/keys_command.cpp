#include <fstream>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "app/cli.hpp"
#include "discord/signature.hpp"

namespace mando::app {
namespace {

struct SignFlags {
  std::string secret_key_file;
  std::string timestamp;
};

}  // namespace

void add_keys_command(CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "Ed25519 keys for local development and tests");
  keys->require_subcommand(1);

  auto* generate = keys->add_subcommand(
      "generate",
      "Print a new Ed25519 key pair as hex: the public key goes in MANDO_DISCORD_PUBLIC_KEY, the "
      "secret key signs requests the way Discord does (`mando keys sign`)");
  generate->callback([] {
    auto pair = discord::generate_key_pair();
    fmt::print("public_key={}\nsecret_key={}\n", pair.public_key_hex, pair.secret_key_hex);
  });

  auto flags = std::make_shared<SignFlags>();
  auto* sign = keys->add_subcommand(
      "sign",
      "Sign standard input the way Discord signs an interaction (Ed25519 over timestamp + "
      "body) and print the X-Signature-Ed25519 value");
  sign->add_option("--secret-key-file", flags->secret_key_file,
                   "File holding the hex secret key printed by `mando keys generate`")
      ->required()
      ->check(CLI::ExistingFile);
  sign->add_option("--timestamp", flags->timestamp, "The X-Signature-Timestamp value")->required();
  sign->callback([flags] {
    std::ifstream key_in(flags->secret_key_file);
    std::string key;
    key_in >> key;
    if (key.starts_with("secret_key=")) key = key.substr(11);
    std::string body((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    auto signature = discord::sign_hex(key, flags->timestamp + body);
    if (!signature) {
      fmt::print(stderr, "mando: {}\n", signature.error().message);
      throw CLI::RuntimeError(2);
    }
    fmt::print("{}\n", *signature);
  });
}

}  // namespace mando::app
