#include "fleet/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "config/document.h"
#include "net/resolve.h"

namespace gh::fleet {
namespace {

using policy::ClusterConfig;
using policy::Document;
using policy::Field;
using policy::kMinute;
using policy::kSecond;
using policy::quote;
using policy::SourceMark;

constexpr std::string_view kClusterKeys[] = {
    "seeds",       "user",          "password_file", "connect_timeout",  "command_timeout",
    "node",        "sync_interval", "prefix",        "breaker_failures", "breaker_open_for",
    "max_pending", "mode",          "limit_shards",  "max_sync_keys",    "request_timeout"};
constexpr std::string_view kModes[] = {"auto", "standalone", "cluster"};
constexpr std::size_t kMaxSeeds = 64;
constexpr std::size_t kMaxPrefix = 64;

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

void load_seeds(Document& doc, const Field& f, const std::string& path, ClusterConfig& c) {
  if (!doc.check_list(f, path, "a list of host:port", 0, kMaxSeeds, "seeds",
                      "a fleet needs at least one Redis address")) {
    return;
  }
  doc.for_each_scalar(f.value, path,
                      [&](const std::string& text, const std::string& item, const SourceMark& at) {
                        std::string why;
                        auto hp = net::parse_host_port(text, &why);
                        if (!hp) {
                          doc.error(at, item + ": " + why);
                          return;
                        }
                        for (const policy::ClusterSeed& s : c.seeds) {
                          if (s.host == hp->host && s.port == hp->port) {
                            doc.error(at, item + ": duplicate seed " + quote(text));
                            return;
                          }
                        }
                        c.seeds.push_back({hp->host, hp->port});
                      });
}

// Checked readable now, so that a typo fails the load rather than every connection later.
void load_password_file(Document& doc, const Field& f, const std::string& path, ClusterConfig& c) {
  const SourceMark at = doc.value_mark(f);
  auto name = doc.file_name(f.value, at, path);
  if (!name) return;
  const std::string resolved = policy::absolute_path(policy::relative_to(doc.file(), *name));
  struct stat st {};
  std::string why;
  if (::stat(resolved.c_str(), &st) != 0) {
    why = std::generic_category().message(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = "it is not a regular file";
  } else if ((st.st_mode & 077) != 0) {
    why = "it is readable by others than its owner (chmod 600)";
  } else if (int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC); fd < 0) {
    why = std::generic_category().message(errno);
  } else {
    ::close(fd);
  }
  if (!why.empty()) {
    doc.error(at, path + ": cannot use " + quote(resolved) + ": " + why);
    return;
  }
  c.password_file = resolved;
}

void load_prefix(Document& doc, const Field& f, const std::string& path, ClusterConfig& c) {
  auto text = doc.scalar(f, path);
  if (!text) return;
  bool ok = !text->empty() && text->size() <= kMaxPrefix;
  for (char ch : *text) ok = ok && (name_char(ch) || ch == ':' || ch == '{' || ch == '}');
  if (!ok) {
    doc.error(doc.value_mark(f), path +
                                     ": expected 1-64 letters, digits, '_', '-', '.', ':', "
                                     "'{' or '}', got " +
                                     quote(*text));
    return;
  }
  c.prefix = *text;
}

}  // namespace

std::string default_node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "gatehouse";
  std::string name(host);
  if (name.size() > 64) name.resize(64);
  for (char& ch : name) {
    if (!name_char(ch)) ch = '-';
  }
  return name;
}

void load_cluster(Document& doc, const Field& f, ClusterConfig& c) {
  c.enabled = true;
  bool has_seeds = false;
  doc.each_section_field(f, kClusterKeys, "cluster", [&](const Field& e, const std::string& path) {
    if (e.key == "seeds") {
      has_seeds = true;
      load_seeds(doc, e, path, c);
    } else if (e.key == "user") {
      if (auto text = doc.scalar(e, path)) {
        if (!doc.check_name(*text, doc.value_mark(e), path)) return;
        c.user = *text;
      }
    } else if (e.key == "password_file") {
      load_password_file(doc, e, path, c);
    } else if (e.key == "connect_timeout") {
      doc.read_duration(e, path, 1, 10 * kSecond, c.connect_timeout);
    } else if (e.key == "command_timeout") {
      doc.read_duration(e, path, 1, 10 * kSecond, c.command_timeout);
    } else if (e.key == "request_timeout") {
      doc.read_duration(e, path, 0, 1000, c.request_timeout);
    } else if (e.key == "node") {
      if (auto text = doc.scalar(e, path)) {
        if (!doc.check_name(*text, doc.value_mark(e), path)) return;
        c.node = *text;
      }
    } else if (e.key == "sync_interval") {
      doc.read_duration(e, path, 10, kMinute, c.sync_interval);
    } else if (e.key == "prefix") {
      load_prefix(doc, e, path, c);
    } else if (e.key == "breaker_failures") {
      doc.read_uint(e, path, 1, 1000, c.breaker_failures);
    } else if (e.key == "breaker_open_for") {
      doc.read_duration(e, path, 10, 10 * kMinute, c.breaker_open_for);
    } else if (e.key == "mode") {
      if (auto i = doc.read_choice(e, path, kModes, "mode")) {
        c.mode = static_cast<policy::ClusterMode>(*i);
      }
    } else if (e.key == "max_pending") {
      doc.read_uint(e, path, 16, 1'000'000, c.max_pending);
    } else if (e.key == "limit_shards") {
      doc.read_uint(e, path, 1, 1024, c.limit_shards);
    } else if (e.key == "max_sync_keys") {
      doc.read_uint(e, path, 16, 1'000'000, c.max_sync_keys);
    }
  });
  if (!has_seeds && f.value.IsMap()) {
    doc.error(doc.key_mark(f),
              "cluster: missing required key 'seeds' (the Redis addresses, "
              "host:port)");
  }
  if (c.node.empty()) c.node = default_node_name();
}

}  // namespace gh::fleet
