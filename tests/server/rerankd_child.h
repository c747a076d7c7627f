// The rerankd binary as a child process for tests: spawn with flags, read
// its stderr line by line with bounded waits (poll with a deadline, never a
// sleep), signal it, reap it. Also the flags those tests share.
// Not thread-safe: one test thread drives a Child.

#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

extern char** environ;

namespace rerank {
namespace testing {

inline constexpr absl::Duration kTimeout = absl::Seconds(60);

inline std::string RerankdPath() {
  return std::string(RERANK_BINARY_DIR) + "/src/server/rerankd";
}

// A rerankd child process with its stderr on a pipe.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    std::vector<std::string> argv_storage = {RerankdPath()};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc =
        posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    EXPECT_EQ(rc, 0) << "posix_spawn " << argv[0];
    if (rc != 0) pid_ = -1;
    read_fd_ = fds[0];
  }

  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(read_fd_);
  }

  // Reads stderr until a line contains `needle` (returns it) or EOF/timeout
  // (returns "").
  std::string WaitForLine(absl::string_view needle) {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (true) {
      size_t nl;
      while ((nl = buffer_.find('\n')) != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        lines_.push_back(line);
        if (absl::StrContains(line, needle)) return line;
      }
      if (!ReadSome(deadline)) return "";
    }
  }

  // Reads until EOF (the child closed stderr, i.e. exited) and reaps it.
  // Returns the exit status, or -1 on timeout or a signal death.
  int WaitForExit() {
    const absl::Time deadline = absl::Now() + kTimeout;
    while (ReadSome(deadline)) {
    }
    if (!eof_) return -1;
    for (absl::string_view line : absl::StrSplit(buffer_, '\n')) {
      if (!line.empty()) lines_.emplace_back(line);
    }
    buffer_.clear();
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void Signal(int sig) { kill(pid_, sig); }
  const std::vector<std::string>& lines() const { return lines_; }
  std::string AllOutput() const { return absl::StrJoin(lines_, "\n"); }

 private:
  bool ReadSome(absl::Time deadline) {
    if (eof_) return false;
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd pfd{read_fd_, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(ms)) <= 0) return false;
    char chunk[4096];
    const ssize_t n = read(read_fd_, chunk, sizeof(chunk));
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int read_fd_ = -1;
  bool eof_ = false;
  std::string buffer_;
  std::vector<std::string> lines_;
};

// The port after `marker` in `line` (e.g. "serving on 127.0.0.1:"), or 0.
inline int PortAfter(const std::string& line, const std::string& marker) {
  const size_t at = line.find(marker);
  if (at == std::string::npos) return 0;
  const std::string rest = line.substr(at + marker.size());
  int port = 0;
  const std::string digits =
      rest.substr(0, rest.find_first_not_of("0123456789"));
  return absl::SimpleAtoi(digits, &port) ? port : 0;
}

// "... serving on 127.0.0.1:PORT (...)..." -> PORT.
inline int PortFromServingLine(const std::string& line) {
  return PortAfter(line, "serving on 127.0.0.1:");
}

// Flags that keep a test rerankd off the fixed default admin and metrics
// ports (tests run in parallel).
inline const std::vector<std::string> kEphemeralPorts = {"--listen=127.0.0.1:0",
                                                  "--admin_listen=127.0.0.1:0",
                                                  "--metrics_listen=off"};

inline std::vector<std::string> With(std::vector<std::string> args,
                              const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

}  // namespace testing
}  // namespace rerank
