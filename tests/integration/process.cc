#include "process.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support.h"

namespace gh::test {

TempDir::TempDir() {
  char tmpl[] = "/tmp/gatehouse-test-XXXXXX";
  path_ = ::mkdtemp(tmpl);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::file(const std::string& name, const std::string& content) const {
  std::string p = path_ + "/" + name;
  std::ofstream(p) << content;
  return p;
}

Child::Child(std::vector<std::string> args, const std::string& log_path,
             const std::vector<std::string>& env, const std::string& cwd)
    : log_(log_path) {
  pid_ = fork();
  if (pid_ == 0) {
    FILE* f = std::fopen(log_path.c_str(), "w");
    dup2(fileno(f), 1);
    dup2(fileno(f), 2);
    for (const auto& e : env) {
      if (e.find('=') == std::string::npos) {
        unsetenv(e.c_str());
      } else {
        putenv(const_cast<char*>(e.c_str()));
      }
    }
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
}

Child::~Child() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Child::signal(int sig) { kill(pid_, sig); }

int Child::wait(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

std::string Child::log() const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::uint16_t Child::port_from_log(const std::regex& pattern) const {
  std::uint16_t port = 0;
  eventually([&] {
    std::smatch m;
    std::string l = log();
    if (std::regex_search(l, m, pattern)) port = static_cast<std::uint16_t>(std::stoi(m[1]));
    return port != 0;
  });
  return port;
}

std::uint16_t Child::listening_port() const {
  return port_from_log(std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"));
}

}  // namespace gh::test
