// systemd's notification protocol as sent through libsystemd, read from a socket the test owns.
#include "service/notify.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "unit/service/notify_socket.h"

namespace gh::service {
namespace {

using namespace std::chrono_literals;
using test::NotifySocket;

// Sets or clears environment variables for one test, restoring them after.
class Env {
 public:
  void set(const char* name, const std::string& value) {
    save(name);
    setenv(name, value.c_str(), 1);
  }
  void unset(const char* name) {
    save(name);
    unsetenv(name);
  }
  ~Env() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second.has_value) {
        setenv(it->first.c_str(), it->second.value.c_str(), 1);
      } else {
        unsetenv(it->first.c_str());
      }
    }
  }

 private:
  struct Value {
    bool has_value = false;
    std::string value;
  };
  void save(const char* name) {
    const char* v = std::getenv(name);
    saved_.emplace_back(name, Value{v != nullptr, v != nullptr ? v : ""});
  }
  std::vector<std::pair<std::string, Value>> saved_;
};

TEST(Notify, NothingOutsideAServiceManager) {
  Env env;
  env.unset("NOTIFY_SOCKET");
  env.unset("WATCHDOG_USEC");
  env.unset("WATCHDOG_PID");
  EXPECT_FALSE(supervised());
  EXPECT_FALSE(notify("READY=1"));
  ready("serving");  // no socket: nothing to send, nothing fails
  EXPECT_FALSE(watchdog_interval().has_value());
}

TEST(Notify, SendsTheStandardSequences) {
  NotifySocket sock;
  ASSERT_TRUE(sock.ok());
  Env env;
  env.set("NOTIFY_SOCKET", sock.path());
  EXPECT_TRUE(supervised());

  ready("serving on 127.0.0.1:8080");
  EXPECT_EQ(sock.next(2s), "READY=1\nSTATUS=serving on 127.0.0.1:8080");

  reloading("reloading the configuration (signal)");
  const std::string r = sock.next(2s);
  EXPECT_EQ(r.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << r;
  EXPECT_NE(r.find("\nSTATUS=reloading the configuration (signal)"), std::string::npos) << r;

  // A newline in a status would start another assignment: it becomes a space.
  stopping("stopping:\nREADY=1");
  EXPECT_EQ(sock.next(2s), "STOPPING=1\nSTATUS=stopping: READY=1");

  status("idle");
  EXPECT_EQ(sock.next(2s), "STATUS=idle");
  status("");  // nothing to say: nothing sent
  EXPECT_TRUE(notify("WATCHDOG=1"));
  EXPECT_EQ(sock.next(2s), "WATCHDOG=1");
}

TEST(Notify, WatchdogIntervalIsThisProcesssOnly) {
  Env env;
  env.set("WATCHDOG_USEC", "200000");
  env.unset("WATCHDOG_PID");
  ASSERT_TRUE(watchdog_interval().has_value());
  EXPECT_EQ(watchdog_interval()->count(), 200000);
  env.set("WATCHDOG_PID", std::to_string(getpid()));
  EXPECT_EQ(watchdog_interval()->count(), 200000);
  // Meant for another process (a parent that was supervised, say): not ours to honour.
  env.set("WATCHDOG_PID", std::to_string(getpid() + 1));
  EXPECT_FALSE(watchdog_interval().has_value());
  env.unset("WATCHDOG_PID");
  env.set("WATCHDOG_USEC", "0");
  EXPECT_FALSE(watchdog_interval().has_value());
}

}  // namespace
}  // namespace gh::service
