// Fixtures for tests that drive the gatehouse binary: a child process with its output captured,
// and a temporary directory. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <regex>
#include <string>
#include <vector>

namespace gh::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes `content` to NAME inside the directory; returns the full path.
  std::string file(const std::string& name, const std::string& content) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// stdout and stderr go to `log_path`; `env` entries ("NAME=value") are added to the child's
// environment ("NAME" alone removes it); `cwd`, when given, is its working directory. Killed
// (SIGKILL) on destruction if still running.
class Child {
 public:
  Child(std::vector<std::string> args, const std::string& log_path,
        const std::vector<std::string>& env = {}, const std::string& cwd = "");
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void signal(int sig);
  // Exit code (128 + signal when killed), or -1 if it did not exit within the timeout.
  int wait(std::chrono::milliseconds timeout);
  std::string log() const;
  // The port captured by the first group of `pattern` once it appears in the log (0 if never).
  std::uint16_t port_from_log(const std::regex& pattern) const;
  // The port of the first "listening on 127.0.0.1:PORT" line.
  std::uint16_t listening_port() const;

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_;
};

}  // namespace gh::test
