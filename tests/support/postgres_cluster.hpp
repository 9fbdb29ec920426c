#pragma once
// A throwaway PostgreSQL cluster for one test: initdb into a fresh temp directory, the server
// listening on a Unix socket in that directory (no port to collide on) and, when asked, on a
// TCP address too; stopped and removed when the object goes away. As root (CI), the server
// runs as the `postgres` user, which Debian's postgresql package creates: PostgreSQL refuses to
// run as root.
//
// The binaries come from $MANDO_TEST_PG_BINDIR, else `pg_config --bindir`, else Debian 12's
// /usr/lib/postgresql/15/bin. Tests fail (never skip) when they are missing: the test command
// installs them (scripts/install-deps.sh --test).

#include <optional>
#include <string>

#include "support/temp_dir.hpp"

namespace mando::testing {

struct PostgresClusterOptions {
  // Also listen on this TCP address ("127.0.0.1", a namespace's address); empty: the socket
  // only.
  std::string listen_address;
  int port = 5432;
  // fsync off by default: tests prove what survives a process crash, not a power cut, and
  // syncs would make the suite slow. Benchmarks turn it on.
  bool fsync = false;
};

class PostgresCluster {
 public:
  // initdb and start; the failure says why (std::runtime_error) so the test fails clearly.
  explicit PostgresCluster(PostgresClusterOptions options = {});
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // A libpq connection string for `database` as the superuser `mando` (trust auth).
  std::string url(const std::string& database = "postgres") const;
  // CREATE DATABASE `name`; answers its url().
  std::string create_database(const std::string& name);

  // Stops the server (fast shutdown: sessions are cut) and starts it again on the same data.
  void stop();
  void start();
  bool running() const { return running_; }

  // The server's log so far, for failure messages.
  std::string log() const;

 private:
  void pg_ctl(const std::string& action);

  PostgresClusterOptions options_;
  TempDir dir_;
  std::string bindir_;
  bool running_ = false;
};

}  // namespace mando::testing
