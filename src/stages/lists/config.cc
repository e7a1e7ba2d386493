#include "stages/lists/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

#include "config/document.h"

namespace gh::lists {
namespace {

using policy::absolute_path;
using policy::BansConfig;
using policy::Document;
using policy::Field;
using policy::kDay;
using policy::kMaxListEntries;
using policy::kSecond;
using policy::ListsConfig;
using policy::quote;
using policy::relative_to;
using policy::SourceMark;

constexpr std::string_view kListsKeys[] = {"allow", "deny", "allow_files", "deny_files"};
constexpr std::string_view kBansKeys[] = {"journal", "max_entries", "escalation_window",
                                          "kernel_drop"};
constexpr std::string_view kKernelDropKeys[] = {"enabled", "from_ban", "table"};
constexpr std::size_t kMaxListFiles = 64;

// List files are parsed by the lists stage; here they are only resolved and checked readable,
// so a typo fails the load instead of leaving a list silently empty.
void load_list_files(Document& doc, const Field& f, const std::string& path,
                     std::vector<std::string>& out) {
  if (f.value.IsNull() ||
      !doc.check_list(f, path, "a list of file names", out.size(), kMaxListFiles, "files")) {
    return;
  }
  doc.for_each_item(
      f.value, path,
      [&](const YAML::Node& item, const std::string& item_path, const SourceMark& at) {
        auto name = doc.file_name(item, at, item_path);
        if (!name) {
          return;
        }
        const std::string resolved = absolute_path(relative_to(doc.file(), *name));
        struct stat st {};
        std::string why;
        if (::stat(resolved.c_str(), &st) != 0) {
          why = std::generic_category().message(errno);
        } else if (S_ISDIR(st.st_mode)) {
          why = "it is a directory";
        } else if (!S_ISREG(st.st_mode)) {
          why = "it is not a regular file";
        } else {
          int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
          if (fd < 0) {
            why = std::generic_category().message(errno);
          } else {
            ::close(fd);
          }
        }
        if (!why.empty()) {
          doc.error(at, item_path + ": cannot read " + quote(resolved) + ": " + why);
          return;
        }
        out.push_back(resolved);
      });
}

}  // namespace

void load_lists(Document& doc, const Field& f, ListsConfig& l) {
  doc.each_section_field(f, kListsKeys, "lists", [&](const Field& e, const std::string& path) {
    if (e.key == "allow") {
      doc.read_cidrs(e, path, kMaxListEntries, l.allow);
    } else if (e.key == "deny") {
      doc.read_cidrs(e, path, kMaxListEntries, l.deny);
    } else if (e.key == "allow_files") {
      load_list_files(doc, e, path, l.allow_files);
    } else if (e.key == "deny_files") {
      load_list_files(doc, e, path, l.deny_files);
    }
  });
}

void load_bans(Document& doc, const Field& f, BansConfig& b) {
  doc.each_section_field(f, kBansKeys, "bans", [&](const Field& e, const std::string& path) {
    if (e.key == "journal") {
      if (auto name = doc.file_name(e.value, doc.value_mark(e), path)) {
        b.journal = *name;
      }
    } else if (e.key == "max_entries") {
      doc.read_uint(e, path, 16, 10'000'000, b.max_entries);
    } else if (e.key == "escalation_window") {
      doc.read_duration(e, path, kSecond, 365 * kDay, b.escalation_window);
    } else if (e.key == "kernel_drop") {
      policy::KernelDropConfig& k = b.kernel_drop;
      doc.each_section_field(e, kKernelDropKeys, path, [&](const Field& g, const std::string& p) {
        if (g.key == "enabled") {
          doc.read_bool(g, p, k.enabled);
        } else if (g.key == "from_ban") {
          doc.read_uint(g, p, 1, 64, k.from_ban);
        } else if (g.key == "table") {
          if (auto name = doc.scalar(g, p)) {
            const bool ok = !name->empty() && name->size() <= 32 &&
                            name->find_first_not_of(
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
                                "WXYZ0123456789_-") == std::string::npos;
            if (ok) {
              k.table = *name;
            } else {
              doc.error(doc.value_mark(g),
                        p +
                            ": expected an nftables table name (1 to 32 letters, "
                            "digits, '_' or '-'), got '" +
                            *name + "'");
            }
          }
        }
      });
    }
  });
}

}  // namespace gh::lists
