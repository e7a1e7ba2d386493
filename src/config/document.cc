#include "config/document.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>

#include <cerrno>
#include <filesystem>
#include <iterator>
#include <sstream>
#include <system_error>
#include <tuple>
#include <unordered_set>

#include "client/address.h"

namespace gh::policy {
namespace {

constexpr std::size_t kMaxIncludeDepth = 8;  // the main file is depth 0
constexpr std::size_t kMaxConfigFiles = 64;  // the main file included
constexpr std::size_t kMaxHeaderName = 64;
constexpr std::string_view kMethodNames[] = {"GET",     "HEAD",  "POST",  "PUT",    "DELETE",
                                             "OPTIONS", "PATCH", "TRACE", "CONNECT"};
constexpr http::Method kMethods[] = {
    http::Method::Get,   http::Method::Head,   http::Method::Post,
    http::Method::Put,   http::Method::Delete, http::Method::Options,
    http::Method::Patch, http::Method::Trace,  http::Method::Connect};

// Counts documents without building them. yaml-cpp 0.7 never consumes a stray flow token at the
// document level ("," or "[a],"): LoadAll() then loops forever, each pass starting a new empty
// document at the same position. Such a repeat is reported as a syntax error instead.
struct DocumentScan {
  int documents = 0;
  bool stuck = false;
  YAML::Mark second;  // where the second document (or the stuck token) starts
};

class DocumentCounter : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

DocumentScan scan_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  while (counter.starts.size() < 3 && parser.HandleNextDocument(counter)) {
  }
  DocumentScan scan;
  scan.documents = static_cast<int>(counter.starts.size());
  if (scan.documents >= 2) {
    scan.second = counter.starts[1];
    for (std::size_t i = 1; i < counter.starts.size(); ++i) {
      if (counter.starts[i].pos == counter.starts[i - 1].pos) {
        scan.stuck = true;
        scan.second = counter.starts[i];
        break;
      }
    }
  }
  return scan;
}

}  // namespace

const char* type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a value";
  }
}

std::optional<std::string> read_text(const std::string& path, bool regular_only, FileText& out) {
  struct stat st {};
  if (regular_only) {
    if (::stat(path.c_str(), &st) != 0) {
      return std::generic_category().message(errno);
    }
    if (S_ISDIR(st.st_mode)) {
      return "it is a directory";
    }
    if (!S_ISREG(st.st_mode)) {
      return "it is not a regular file";
    }
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
  if (fd < 0) {
    return std::generic_category().message(errno);
  }
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return "it is a directory";
  }
  out.id = FileId{st.st_dev, st.st_ino};
  char buf[16384];
  int read_errno = 0;
  while (out.text.size() <= kMaxConfigBytes) {  // one byte past the cap is enough to refuse it
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      read_errno = errno;
    }
    if (n <= 0) {
      break;
    }
    out.text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (read_errno != 0) {
    return std::generic_category().message(read_errno);
  }
  return std::nullopt;
}

// `name` as written in a file, relative to that file's directory unless absolute.
std::string relative_to(const std::string& including_file, const std::string& name) {
  if (!name.empty() && name.front() == '/') {
    return name;
  }
  std::string_view rest = name;
  while (rest.starts_with("./")) {
    rest.remove_prefix(2);
  }
  const std::size_t slash = including_file.rfind('/');
  if (slash == std::string::npos) {
    return std::string(rest);
  }
  return including_file.substr(0, slash + 1) + std::string(rest);
}

// An absolute form of `path` (relative to the current directory). ".." is left to the kernel:
// dropping it by hand would be wrong after a symbolic link.
std::string absolute_path(const std::string& path) {
  if (!path.empty() && path.front() == '/') {
    return path;
  }
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.string();
}

void Document::load_main(std::string_view yaml, std::optional<FileId> id, Sections sections) {
  sections_ = std::move(sections);
  files_.push_back(LoadedFile{file_, id, SourceMark{}});
  include_stack_.push_back(0);
  if (id) {
    source_files_.push_back(file_);
  }
  load_text(yaml, true);
}

void Document::collect_includes(const Field& f, std::vector<Include>& out) {
  if (f.value.IsNull()) {
    return;
  }
  if (f.value.IsScalar()) {
    if (auto name = file_name(f.value, value_mark(f), "include")) {
      out.push_back(Include{"include", *name, value_mark(f)});
    }
    return;
  }
  if (!check_list(f, "include", "a file name or a list of them", 0, kMaxConfigFiles, "files")) {
    return;
  }
  for_each_item(f.value, "include",
                [&](const YAML::Node& item, const std::string& path, const SourceMark& at) {
                  if (auto name = file_name(item, at, path)) {
                    out.push_back(Include{path, *name, at});
                  }
                });
}

void Document::load_include(const Include& inc) {
  if (include_stack_.size() > kMaxIncludeDepth) {
    error(inc.at, inc.path + ": includes nest more than " + std::to_string(kMaxIncludeDepth) +
                      " levels deep");
    incomplete_ = true;
    return;
  }
  if (files_.size() >= kMaxConfigFiles) {
    error(inc.at, inc.path + ": more than " + std::to_string(kMaxConfigFiles) +
                      " configuration files in all");
    incomplete_ = true;
    return;
  }
  const std::string name = relative_to(file_, inc.name);
  FileText file;
  if (auto why = read_text(name, true, file)) {
    error(inc.at, inc.path + ": cannot read " + quote(name) + ": " + *why);
    incomplete_ = true;
    return;
  }
  for (std::size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].id != file.id) {
      continue;
    }
    auto open = std::find(include_stack_.begin(), include_stack_.end(), i);
    if (open != include_stack_.end()) {
      std::string chain;
      for (auto it = open; it != include_stack_.end(); ++it) {
        chain += files_[*it].name + " -> ";
      }
      error(inc.at, inc.path + ": include cycle: " + chain + name);
    } else {
      const SourceMark& first = files_[i].included_at;
      error(inc.at,
            inc.path + ": " + quote(name) + " is already included (from " + position(first) + ")");
    }
    return;
  }
  files_.push_back(LoadedFile{name, file.id, inc.at});
  source_files_.push_back(name);
  const std::string parent = file_;
  file_ = name;
  include_stack_.push_back(files_.size() - 1);
  load_text(file.text, false);
  include_stack_.pop_back();
  file_ = parent;
}

bool Document::claim_section(const Field& f, std::span<const std::string_view> single_sections) {
  auto single = std::find(single_sections.begin(), single_sections.end(), f.key);
  if (single == single_sections.end()) {
    return true;
  }
  const SourceMark at = key_mark(f);
  auto [it, inserted] = section_owner_.emplace(f.key, at);
  if (!inserted) {
    const SourceMark& first = it->second;
    error(at, f.key + ": already set in " + position(first) +
                  " (each section that holds one value may appear in one file only)");
    return false;
  }
  return true;
}

void Document::load_text(std::string_view yaml, bool main) {
  if (yaml.size() > kMaxConfigBytes) {
    error(SourceMark{file_, 0, 0}, "configuration is larger than " + format_size(kMaxConfigBytes));
    incomplete_ = true;
    return;
  }
  // Exceptions are caught per file: a broken included file is reported under its own name.
  try {
    const std::string text(yaml);
    const DocumentScan scan = scan_documents(text);
    if (scan.stuck) {
      error(mark(scan.second),
            "invalid YAML: unexpected " +
                quote(text.substr(static_cast<std::size_t>(scan.second.pos), 1)));
      incomplete_ = true;
    } else if (scan.documents > 1) {
      error(mark(scan.second), "only one YAML document is allowed");
      incomplete_ = true;
    } else {
      const YAML::Node root = YAML::Load(text);
      if (main) {
        root_mark_ = mark(root.Mark());
      }
      sections_(root, main);
    }
  } catch (const YAML::Exception& e) {
    error(mark(e.mark), e.msg.empty() ? std::string("invalid YAML") : "invalid YAML: " + e.msg);
    incomplete_ = true;
  } catch (const std::exception& e) {
    error(SourceMark{file_, 0, 0}, std::string("cannot load configuration: ") + e.what());
    incomplete_ = true;
  }
}

std::vector<ConfigError> Document::take_errors() {
  // By file (in load order), then by position.
  auto file_index = [this](const SourceMark& m) {
    for (std::size_t i = 0; i < files_.size(); ++i) {
      if (files_[i].name == m.file) {
        return i;
      }
    }
    return std::size_t{0};
  };
  std::stable_sort(errors_.begin(), errors_.end(), [&](const ConfigError& a, const ConfigError& b) {
    return std::tuple(file_index(a.mark), a.mark.line, a.mark.column) <
           std::tuple(file_index(b.mark), b.mark.line, b.mark.column);
  });
  // The "too many errors" note belongs at the end whatever its position.
  auto note = std::find_if(errors_.begin(), errors_.end(), [](const ConfigError& e) {
    return e.message == "too many errors; stopping here";
  });
  if (note != errors_.end()) {
    std::rotate(note, note + 1, errors_.end());
  }
  return std::move(errors_);
}

void Document::error(const SourceMark& at, std::string message) {
  if (errors_.size() == kMaxConfigErrors) {
    errors_.push_back(ConfigError{at, "too many errors; stopping here"});
  }
  if (errors_.size() > kMaxConfigErrors) {
    return;
  }
  errors_.push_back(ConfigError{at, std::move(message)});
}

SourceMark Document::mark(const YAML::Mark& m) const {
  if (m.line < 0) {
    return SourceMark{file_, 1, 1};  // yaml-cpp's null mark: an empty document
  }
  return SourceMark{file_, m.line + 1, m.column + 1};
}

SourceMark Document::mark_of(const std::string& path, const SourceMark& fallback) const {
  auto it = marks_.find(path);
  return it != marks_.end() ? it->second : fallback;
}

std::string Document::position(const SourceMark& m) {
  return m.file + ":" + std::to_string(m.line) + ":" + std::to_string(m.column);
}

std::string Document::first_at(const SourceMark& m) const {
  if (m.file == file_) {
    return "first at line " + std::to_string(m.line);
  }
  return "first at " + position(m);
}

std::string Document::place(const std::string& path, const SourceMark& m, const SourceMark& here) {
  if (m.file == here.file) {
    return path;
  }
  return path + " (" + position(m) + ")";
}

std::vector<Field> Document::fields(const YAML::Node& map, std::span<const std::string_view> known,
                                    const std::string& section) {
  std::vector<Field> out;
  std::unordered_set<std::string> seen;  // a hostile file may hold thousands of keys
  const std::string where = section.empty() ? "at top level" : "in " + section;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      error(mark(k.Mark()), "keys must be plain names " + where);
      continue;
    }
    std::string key = k.Scalar();
    if (!seen.insert(key).second) {
      error(mark(k.Mark()), "duplicate key " + quote(key) + " " + where);
      continue;
    }
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      error(mark(k.Mark()), "unknown key " + quote(key) + " " + where + suggest(key, known));
      continue;
    }
    const YAML::Node v = it->second;
    out.push_back(Field{std::move(key), k, v});
  }
  return out;
}

bool Document::section_map(const Field& f, const std::string& path) {
  if (f.value.IsNull()) {
    return false;
  }
  if (!f.value.IsMap()) {
    error(value_mark(f), path + ": expected a map, got " + type_name(f.value));
    return false;
  }
  return true;
}

std::optional<std::string> Document::scalar_node(const YAML::Node& n, const SourceMark& at,
                                                 const std::string& path) {
  if (n.IsNull()) {
    error(at, path + ": missing value");
    return std::nullopt;
  }
  if (!n.IsScalar()) {
    error(at, path + ": expected a single value, got " + type_name(n));
    return std::nullopt;
  }
  marks_[path] = at;
  return n.Scalar();
}

std::optional<std::string> Document::scalar(const Field& f, const std::string& path) {
  return scalar_node(f.value, value_mark(f), path);
}

std::optional<std::string> Document::file_name(const YAML::Node& n, const SourceMark& at,
                                               const std::string& path) {
  auto text = scalar_node(n, at, path);
  if (!text) {
    return std::nullopt;
  }
  if (text->empty()) {
    error(at, path + ": must not be empty");
    return std::nullopt;
  }
  if (text->find('\0') != std::string::npos) {
    error(at, path + ": a file name must not hold a NUL byte");
    return std::nullopt;
  }
  return text;
}

void Document::read_bool(const Field& f, const std::string& path, bool& out) {
  auto text = scalar(f, path);
  if (!text) {
    return;
  }
  if (*text == "true" || *text == "True" || *text == "TRUE") {
    out = true;
  } else if (*text == "false" || *text == "False" || *text == "FALSE") {
    out = false;
  } else {
    error(value_mark(f), path + ": expected true or false, got " + quote(*text));
  }
}

bool Document::read_timeout(const Field& f, const std::string& path,
                            std::span<const Timeout> timeouts) {
  for (const Timeout& t : timeouts) {
    if (f.key == t.key) {
      read_duration(f, path, 1, kMaxTimeout, *t.out);
      return true;
    }
  }
  return false;
}

bool Document::read_socket_address(const YAML::Node& n, const SourceMark& at,
                                   const std::string& path, bool allow_port0,
                                   client::SocketAddress& out) {
  auto text = scalar_node(n, at, path);
  if (!text) {
    return false;
  }
  auto addr = client::parse_socket_address(*text);
  if (!addr) {
    error(at, path + ": invalid address " + quote(*text) +
                  ": expected IPv4:port, [IPv6]:port or localhost:port");
    return false;
  }
  if (!allow_port0 && addr->port == 0) {
    error(at, path + ": port 0 is not allowed here");
    return false;
  }
  out = *addr;
  return true;
}

void Document::read_cidrs(const Field& f, const std::string& path, std::size_t max,
                          std::vector<client::Cidr>& out) {
  if (f.value.IsNull() ||
      !check_list(f, path, "a list of addresses or CIDRs", out.size(), max, "entries")) {
    return;
  }
  for_each_scalar(f.value, path,
                  [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
                    auto cidr = client::parse_cidr(text);
                    if (!cidr) {
                      error(at, item_path + ": invalid address or CIDR " + quote(text));
                      return;
                    }
                    out.push_back(*cidr);
                  });
}

bool Document::check_list(const Field& f, const std::string& path, std::string_view what,
                          std::size_t held, std::size_t max, std::string_view unit,
                          std::string_view if_empty) {
  if (!f.value.IsSequence()) {
    error(value_mark(f), path + ": expected " + std::string(what) + ", got " + type_name(f.value));
    return false;
  }
  if (!if_empty.empty() && f.value.size() == 0) {
    error(value_mark(f), path + ": " + std::string(if_empty));
    return false;
  }
  if (held + f.value.size() > max) {
    error(value_mark(f), path + ": at most " + std::to_string(max) + " " + std::string(unit));
    return false;
  }
  return true;
}

bool Document::check_name(const std::string& name, const SourceMark& at, const std::string& path) {
  if (!valid_name(name)) {
    error(at,
          path + ": invalid name " + quote(name) + ": use 1-64 letters, digits, '_', '-' or '.'");
    return false;
  }
  return true;
}

void Document::read_methods(const Field& e, const std::string& key_path,
                            std::vector<http::Method>& out) {
  if (!check_list(e, key_path, "a list of methods", 0, std::numeric_limits<std::size_t>::max(), "",
                  "an empty list matches nothing; leave the key out to match any method")) {
    return;
  }
  if (e.value.size() > 64) {
    error(value_mark(e), key_path + ": too many methods");
    return;
  }
  for_each_scalar(
      e.value, key_path,
      [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
        auto it = std::find(std::begin(kMethodNames), std::end(kMethodNames), text);
        if (it == std::end(kMethodNames)) {
          error(at, item_path + ": unknown method " + quote(text) + suggest(text, kMethodNames));
          return;
        }
        add_unique(out, kMethods[it - std::begin(kMethodNames)], at, item_path,
                   "method " + quote(text));
      });
}

std::optional<std::size_t> Document::read_choice(const Field& f, const std::string& path,
                                                 std::span<const std::string_view> names,
                                                 std::string_view what) {
  auto text = scalar(f, path);
  if (!text) {
    return std::nullopt;
  }
  auto it = std::find(names.begin(), names.end(), *text);
  if (it == names.end()) {
    std::string list;
    for (std::size_t i = 0; i < names.size(); ++i) {
      list += i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
      list += names[i];
    }
    error(value_mark(f), path + ": unknown " + std::string(what) + " " + quote(*text) + ": use " +
                             list + suggest(*text, names));
    return std::nullopt;
  }
  return static_cast<std::size_t>(it - names.begin());
}

void Document::read_statuses(const Field& f, const std::string& path,
                             std::vector<std::uint16_t>& out) {
  if (!check_list(f, path, "a list of status codes", 0, kMaxStatuses, "statuses",
                  "an empty list never matches")) {
    return;
  }
  out.clear();
  for_each_scalar(
      f.value, path,
      [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
        auto n = parse_integer(text);
        if (!n || *n < 100 || *n > 599) {
          error(at, item_path + ": expected a status code (100-599), got " + quote(text));
          return;
        }
        add_unique(out, static_cast<std::uint16_t>(*n), at, item_path, "status " + text);
      });
}

void Document::read_cookie_name(const Field& f, const std::string& path, std::string& out) {
  auto text = scalar(f, path);
  if (!text) {
    return;
  }
  if (text->empty() || text->size() > 64 || !valid_token(*text)) {
    error(value_mark(f), path + ": invalid cookie name " + quote(*text) +
                             ": use 1-64 token characters (letters, digits, !#$%&'*+-.^_`|~)");
    return;
  }
  out = *text;
}

void Document::read_header_names(const Field& f, const std::string& path,
                                 std::vector<std::string>& out) {
  if (!check_list(f, path, "a list of header names", 0, 64, "headers")) {
    return;
  }
  for_each_scalar(f.value, path,
                  [&](const std::string& text, const std::string& item_path, const SourceMark& at) {
                    if (text.empty() || text.size() > kMaxHeaderName || !valid_token(text)) {
                      error(at, item_path + ": invalid header name " + quote(text));
                      return;
                    }
                    std::string lowered(text);
                    for (char& c : lowered) {
                      c = lower(c);
                    }
                    add_unique(out, std::move(lowered), at, item_path, "header " + quote(text));
                  });
}

std::string ConfigError::to_string() const {
  std::string out = mark.file.empty() ? std::string("<config>") : mark.file;
  if (mark.line > 0) {
    out += ':';
    out += std::to_string(mark.line);
    out += ':';
    out += std::to_string(mark.column);
  }
  out += ": ";
  out += message;
  return out;
}

}  // namespace gh::policy
