// A scratch directory per test, removed afterwards (the sim tests write scenarios, databases,
// reports and MaxMind files there).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace gh::sim::simtest {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "gh-sim-XXXXXX").string();
    if (mkdtemp(t.data()) == nullptr) ADD_FAILURE() << "mkdtemp";
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace gh::sim::simtest
