#include <CLI/CLI.hpp>

#include "app/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mando: a Discord image bot that stays fast under load", "mando"};
  app.require_subcommand(1);
  mando::app::add_all_commands(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
