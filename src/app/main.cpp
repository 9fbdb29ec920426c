#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "app/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mando: a Discord image bot that stays fast under load", "mando"};
  app.require_subcommand(1);
  mando::app::add_all_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and a subcommand's own status (CLI::RuntimeError) keep CLI11's handling; every
    // usage error CLI11 finds exits 2 in mando's form, like the ones mando finds itself.
    if (e.get_exit_code() == 0 || dynamic_cast<const CLI::RuntimeError*>(&e) != nullptr) {
      return app.exit(e);
    }
    fmt::print(stderr, "mando: {}\nRun with --help for more information.\n", e.what());
    return 2;
  }
  return 0;
}
