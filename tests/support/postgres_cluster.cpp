#include "support/postgres_cluster.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "core/postgres.hpp"
#include "support/process.hpp"
#include <pwd.h>
#include <unistd.h>

namespace mando::testing {
namespace {

std::string find_bindir() {
  if (const char* dir = std::getenv("MANDO_TEST_PG_BINDIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  auto found = run({"/bin/sh", "-c", "pg_config --bindir 2>/dev/null"});
  std::string dir = found.out.substr(0, found.out.find('\n'));
  if (found.exit_code == 0 && !dir.empty()) return dir;
  return "/usr/lib/postgresql/15/bin";
}

// The command line that runs `argv` as the server's owner: as is for a normal user, through
// runuser as `postgres` for root.
std::vector<std::string> as_owner(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> wrapped = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

}  // namespace

PostgresCluster::PostgresCluster(PostgresClusterOptions options)
    : options_(std::move(options)), bindir_(find_bindir()) {
  if (::access((bindir_ + "/initdb").c_str(), X_OK) != 0) {
    throw std::runtime_error(
        fmt::format("no PostgreSQL server binaries in {} (install postgresql-15: "
                    "scripts/install-deps.sh --test, or set MANDO_TEST_PG_BINDIR)",
                    bindir_));
  }
  if (::geteuid() == 0) {
    const passwd* owner = ::getpwnam("postgres");
    if (owner == nullptr || ::chown(dir_.path().c_str(), owner->pw_uid, owner->pw_gid) != 0) {
      throw std::runtime_error(
          "running as root needs the `postgres` user to own the test cluster (the postgresql "
          "package creates it)");
    }
  }
  auto init = run(as_owner({bindir_ + "/initdb", "-D", (dir_.path() / "data").string(), "-U",
                            "mando", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"}),
                  {}, {}, std::chrono::seconds(60));
  if (init.exit_code != 0) {
    throw std::runtime_error("initdb failed: " + init.out + init.err);
  }
  start();
}

PostgresCluster::~PostgresCluster() {
  if (running_) {
    try {
      pg_ctl("stop");
    } catch (const std::exception&) {
      // The temp dir goes anyway; a server left behind dies when its directory does not exist.
    }
  }
}

void PostgresCluster::pg_ctl(const std::string& action) {
  std::string server_options = fmt::format("-k {} -p {} -c fsync={}", dir_.path().string(),
                                           options_.port, options_.fsync ? "on" : "off");
  server_options += fmt::format(" -c listen_addresses='{}'", options_.listen_address);
  std::vector<std::string> argv = {bindir_ + "/pg_ctl",
                                   "-D",
                                   (dir_.path() / "data").string(),
                                   "-l",
                                   (dir_.path() / "server.log").string(),
                                   "-w",
                                   "-t",
                                   "60"};
  if (action == "stop") {
    argv.insert(argv.end(), {"-m", "fast", "stop"});
  } else {
    argv.insert(argv.end(), {"-o", server_options, action});
  }
  auto done = run(as_owner(argv), {}, {}, std::chrono::seconds(90));
  if (done.exit_code != 0) {
    throw std::runtime_error(
        fmt::format("pg_ctl {} failed: {}{}\n{}", action, done.out, done.err, log()));
  }
}

void PostgresCluster::start() {
  pg_ctl("start");
  running_ = true;
}

void PostgresCluster::stop() {
  pg_ctl("stop");
  running_ = false;
}

std::string PostgresCluster::url(const std::string& database) const {
  return fmt::format("host={} port={} dbname={} user=mando", dir_.path().string(), options_.port,
                     database);
}

std::string PostgresCluster::create_database(const std::string& name) {
  auto c = core::pg::Connection::open({.url = url()});
  if (!c) throw std::runtime_error(c.error().message);
  if (auto ok = (*c)->exec_script(fmt::format("CREATE DATABASE \"{}\"", name)); !ok) {
    throw std::runtime_error(ok.error().message);
  }
  return url(name);
}

std::string PostgresCluster::log() const {
  std::ifstream in(dir_.path() / "server.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace mando::testing
