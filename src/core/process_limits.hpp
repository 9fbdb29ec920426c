#pragma once
// Process-wide file descriptor limits. Every connection, SQLite file, curl transfer, blob file
// and transform worker pipe is a descriptor; under the usual soft limit of 1024 a few thousand
// idle keep-alive clients would starve all the others. At start the app raises the soft limit
// to the hard one, gives each HTTP server a connection budget below it, and exports the
// gauges process_open_fds and process_max_fds (the names Prometheus clients use).
//
// Call raise_fd_limit() and add_process_fd_metrics() once per process (app/server.cpp), not per
// server. Thread-safety: all functions may be called from any thread.

#include <cstddef>
#include <cstdint>

#include "core/error.hpp"

namespace mando::core {

class MetricsRegistry;

struct FdLimit {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (to fs.nr_open when the hard limit is
// unlimited) and returns the limits now in force. On failure the limit is unchanged and the
// error names the system call. mando never calls select(), so a soft limit above FD_SETSIZE is
// safe.
Result<FdLimit> raise_fd_limit();

// The default [server] max_connections when the process may open `fd_limit` descriptors: a
// quarter of them (at least 256, at most half when the limit is small) stays for everything
// else the process opens.
std::size_t default_max_connections(std::uint64_t fd_limit);

// Descriptors this process has open (entries of /proc/self/fd); -1 when unreadable.
std::int64_t process_open_fds();

// Registers the callback gauges process_open_fds and process_max_fds (the soft limit).
void add_process_fd_metrics(MetricsRegistry& metrics);

}  // namespace mando::core
