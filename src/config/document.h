// The configuration as a document: YAML files (one main file and those it includes), positions
// for `file:line:col` messages, typed readers with their exact wording, unknown keys with "did you
// mean", and the errors of one load. What the sections mean is not known here: the top level is
// policy/config.cc's, and each stage's section is its folder's config.cc, all written against
// this API.
#pragma once

#include <sys/types.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/address-t.h"
#include "config/model-t.h"
#include "config/values.h"
#include "http/message-t.h"

namespace gh::policy {

// Limits that several sections share.
inline constexpr std::size_t kMaxListEntries = 100'000;  // addresses or CIDRs in one list
inline constexpr std::size_t kMaxRegexBytes = 1024;
inline constexpr std::size_t kMaxStatuses = 64;  // status codes in one list

// "a map", "a list", "nothing", "a value": what a node is, for "expected X, got Y".
const char* type_name(const YAML::Node& n);

// One key of a map and its value. YAML::Node's operator= writes into the document instead of
// rebinding, so Fields are never assigned (no sorting or partitioning of them).
struct Field {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;

  Field(std::string k, const YAML::Node& kn, const YAML::Node& v)
      : key(std::move(k)), key_node(kn), value(v) {}
  Field(const Field&) = default;
  Field& operator=(const Field&) = delete;
};

// A file's identity, so that two spellings of one path are one file (include cycles).
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  friend bool operator==(const FileId&, const FileId&) = default;
};

struct FileText {
  std::string text;  // at most kMaxConfigBytes + 1 bytes: enough to refuse a larger file
  FileId id;
};

// Reads a configuration file; the reason ("No such file or directory", "it is a directory")
// on failure. `regular_only` refuses FIFOs and devices before opening them: an included name
// must not block the loader or touch a device.
std::optional<std::string> read_text(const std::string& path, bool regular_only, FileText& out);
// `name` as written in a file, relative to that file's directory unless absolute.
std::string relative_to(const std::string& including_file, const std::string& name);
// An absolute form of `path` (relative to the current directory). ".." is left to the kernel:
// dropping it by hand would be wrong after a symbolic link.
std::string absolute_path(const std::string& path);

// One load of a configuration: the files read so far, the errors found, and the readers that
// report them. Readers never throw; they report and leave the value as it was.
class Document {
 public:
  // Gets each file's root node, the main file's first (`main` true), included files' after the
  // entries of the file that includes them (in the order the caller asks for them).
  using Sections = std::function<void(const YAML::Node& root, bool main)>;

  struct Include {
    std::string path;  // "include[1]"
    std::string name;  // as written
    SourceMark at;
  };

  explicit Document(std::string main_file) : file_(std::move(main_file)) {}

  // Reads the main file's text; `id` is set when it was read from the file named file().
  void load_main(std::string_view yaml, std::optional<FileId> id, Sections sections);
  // The `include` entry of a file's top level (a name or a list of names).
  void collect_includes(const Field& f, std::vector<Include>& out);
  void load_include(const Include& inc);
  // Sections that hold one value may be set by one file only; false (and an error) for a second.
  bool claim_section(const Field& f, std::span<const std::string_view> single_sections);

  // The file being read (error marks name it).
  const std::string& file() const { return file_; }
  // Every file read: the main one first (when it was read from a file), then the included ones.
  const std::vector<std::string>& source_files() const { return source_files_; }
  // Some file could not be read or parsed: whole-config checks would only add noise.
  bool incomplete() const { return incomplete_; }
  void set_incomplete() { incomplete_ = true; }
  // Where the main file's document starts.
  const SourceMark& root_mark() const { return root_mark_; }

  // --- Errors
  void error(const SourceMark& at, std::string message);
  bool has_errors() const { return !errors_.empty(); }
  // By file (in load order), then by position; the "too many errors" note last.
  std::vector<ConfigError> take_errors();

  // --- Positions
  SourceMark mark(const YAML::Mark& m) const;
  SourceMark key_mark(const Field& f) const { return mark(f.key_node.Mark()); }
  // An empty value ("key:") carries the position of whatever follows it: point at the key.
  SourceMark value_mark(const Field& f) const {
    return f.value.IsNull() ? key_mark(f) : mark(f.value.Mark());
  }
  // Where the value at `path` ("limits.max_head_size") was read, for cross-field checks.
  SourceMark mark_of(const std::string& path, const SourceMark& fallback) const;
  // "other.yaml:7:5"
  static std::string position(const SourceMark& m);
  // "first at line 7" within the file being read, "first at other.yaml:7:5" across files.
  std::string first_at(const SourceMark& m) const;
  // `path` of something at `m`, with m's file when that differs from `here`'s.
  static std::string place(const std::string& path, const SourceMark& m, const SourceMark& here);

  // --- Maps and lists
  // The known fields of `map`; an error for each unknown ("did you mean"), duplicate or
  // non-scalar key. `section` names the map in messages ("" = the top level).
  std::vector<Field> fields(const YAML::Node& map, std::span<const std::string_view> known,
                            const std::string& section);
  // fn(field, "<path>.<key>") for each known key of `map`.
  template <class Fn>
  void each_field(const YAML::Node& map, std::span<const std::string_view> known,
                  const std::string& path, Fn fn);
  // The same for a section that must be a map; false when it is not one (or is empty).
  template <class Fn>
  bool each_section_field(const Field& f, std::span<const std::string_view> known,
                          const std::string& path, Fn fn);
  // A section that must be a map; a null value counts as an empty map.
  bool section_map(const Field& f, const std::string& path);
  // Whether f's value is a list ("<path>: expected <what>, got ..."), not empty when `if_empty`
  // says why it must not be, and of at most `max` items counting `held` already taken.
  bool check_list(const Field& f, const std::string& path, std::string_view what, std::size_t held,
                  std::size_t max, std::string_view unit, std::string_view if_empty = {});
  // fn(item, "<path>[i]", item mark) for each item of a list.
  template <class Fn>
  void for_each_item(const YAML::Node& list, const std::string& path, Fn fn);
  // fn(text, "<path>[i]", item mark) for each item that is a single value.
  template <class Fn>
  void for_each_scalar(const YAML::Node& list, const std::string& path, Fn fn);
  // Appends `value` unless `same` finds it in `list` ("<path>: duplicate <what>").
  template <class T, class Same = std::equal_to<>>
  bool add_unique(std::vector<T>& list, T value, const SourceMark& at, const std::string& path,
                  const std::string& what, Same same = {});

  // --- Values
  std::optional<std::string> scalar(const Field& f, const std::string& path);
  std::optional<std::string> scalar_node(const YAML::Node& n, const SourceMark& at,
                                         const std::string& path);
  // A scalar naming a file: not empty, no NUL byte.
  std::optional<std::string> file_name(const YAML::Node& n, const SourceMark& at,
                                       const std::string& path);
  void read_bool(const Field& f, const std::string& path, bool& out);
  // A scalar parsed by `parse` (nullopt and a reason on failure) and kept within [lo, hi].
  template <class T, class Parse, class Format>
  bool read_number(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                   T& out, Parse parse, Format format);
  template <class T>
  bool read_uint(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                 T& out);
  template <class T>
  bool read_size(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                 T& out);
  template <class T>
  bool read_duration(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                     T& out);
  struct Timeout {
    std::string_view key;
    Millis* out;
  };
  // The timeout (1ms to 24h) among `timeouts` that f names; false when f names none.
  bool read_timeout(const Field& f, const std::string& path, std::span<const Timeout> timeouts);
  // One of `names` (index into it), or nullopt with "unknown <what>".
  std::optional<std::size_t> read_choice(const Field& f, const std::string& path,
                                         std::span<const std::string_view> names,
                                         std::string_view what);
  bool read_socket_address(const YAML::Node& n, const SourceMark& at, const std::string& path,
                           bool allow_port0, client::SocketAddress& out);
  void read_cidrs(const Field& f, const std::string& path, std::size_t max,
                  std::vector<client::Cidr>& out);
  void read_statuses(const Field& f, const std::string& path, std::vector<std::uint16_t>& out);
  // A list of HTTP methods, upper case as on the wire, without duplicates.
  void read_methods(const Field& f, const std::string& path, std::vector<http::Method>& out);
  void read_cookie_name(const Field& f, const std::string& path, std::string& out);
  // Lowercased, without duplicates.
  void read_header_names(const Field& f, const std::string& path, std::vector<std::string>& out);

  // --- Names
  // "<prefix>.<key> (v) must not exceed <cap_key> (c)" when value > cap, at the key's value, else
  // the cap's, else `fallback`.
  template <class Format>
  void not_above(const std::string& prefix, std::string_view key, std::uint64_t value,
                 std::string_view cap_key, std::uint64_t cap, const SourceMark& fallback,
                 Format format);
  // A name: 1-64 letters, digits, '_', '-' or '.'.
  bool check_name(const std::string& name, const SourceMark& at, const std::string& path);
  // False (and an error per match) when an earlier sibling has `name`:
  // "<path>: duplicate <what> 'x'<extra> (first at ...)".
  template <class T>
  bool first_use(const std::vector<T>& siblings, const std::string& name, const SourceMark& at,
                 const std::string& path, std::string_view what, std::string_view extra);
  // A `name` field: a valid name, reported when an earlier sibling has it too.
  template <class T>
  void read_unique_name(const Field& f, const std::string& path, const std::vector<T>& siblings,
                        std::string_view what, std::string_view extra, std::string& out);

 private:
  struct LoadedFile {
    std::string name;
    std::optional<FileId> id;
    SourceMark included_at;  // the include entry naming it; empty for the main file
  };

  // One file's text (the main one or an included one, named file_).
  void load_text(std::string_view yaml, bool main);

  std::string file_;  // the file being read; error marks name it
  Sections sections_;
  std::vector<ConfigError> errors_;
  std::map<std::string, SourceMark> marks_;  // value position by path, for cross-field checks
  std::vector<LoadedFile> files_;            // every file read, in order; [0] is the main one
  std::vector<std::size_t> include_stack_;   // indexes into files_, main file first
  std::vector<std::string> source_files_;
  std::map<std::string, SourceMark> section_owner_;  // single sections: where each was set
  SourceMark root_mark_;
  bool incomplete_ = false;
};

template <class Fn>
void Document::each_field(const YAML::Node& map, std::span<const std::string_view> known,
                          const std::string& path, Fn fn) {
  for (const Field& e : fields(map, known, path)) {
    fn(e, path + "." + e.key);
  }
}

template <class Fn>
bool Document::each_section_field(const Field& f, std::span<const std::string_view> known,
                                  const std::string& path, Fn fn) {
  if (!section_map(f, path)) {
    return false;
  }
  each_field(f.value, known, path, fn);
  return true;
}

template <class Fn>
void Document::for_each_item(const YAML::Node& list, const std::string& path, Fn fn) {
  std::size_t i = 0;
  for (const YAML::Node& item : list) {
    const std::string item_path = path + "[" + std::to_string(i++) + "]";
    fn(item, item_path, mark(item.Mark()));
  }
}

template <class Fn>
void Document::for_each_scalar(const YAML::Node& list, const std::string& path, Fn fn) {
  for_each_item(list, path,
                [&](const YAML::Node& item, const std::string& item_path, const SourceMark& at) {
                  if (auto text = scalar_node(item, at, item_path)) {
                    fn(*text, item_path, at);
                  }
                });
}

template <class T, class Same>
bool Document::add_unique(std::vector<T>& list, T value, const SourceMark& at,
                          const std::string& path, const std::string& what, Same same) {
  auto is_value = [&](const T& x) { return same(x, value); };
  if (std::any_of(list.begin(), list.end(), is_value)) {
    error(at, path + ": duplicate " + what);
    return false;
  }
  list.push_back(std::move(value));
  return true;
}

template <class T, class Parse, class Format>
bool Document::read_number(const Field& f, const std::string& path, std::uint64_t lo,
                           std::uint64_t hi, T& out, Parse parse, Format format) {
  auto text = scalar(f, path);
  if (!text) {
    return false;
  }
  std::string why;
  auto n = parse(*text, why);
  if (!n) {
    error(value_mark(f), path + ": " + why);
    return false;
  }
  if (*n < lo || *n > hi) {
    error(value_mark(f),
          path + ": must be between " + format(lo) + " and " + format(hi) + ", got " + *text);
    return false;
  }
  out = static_cast<T>(*n);
  return true;
}

template <class T>
bool Document::read_uint(const Field& f, const std::string& path, std::uint64_t lo,
                         std::uint64_t hi, T& out) {
  auto parse = [](std::string_view text, std::string& why) {
    auto n = parse_integer(text);
    if (!n) {
      why = "expected a whole number, got " + quote(text);
    }
    return n;
  };
  return read_number(f, path, lo, hi, out, parse, format_count);
}

template <class T>
bool Document::read_size(const Field& f, const std::string& path, std::uint64_t lo,
                         std::uint64_t hi, T& out) {
  return read_number(f, path, lo, hi, out, parse_size, format_size);
}

template <class T>
bool Document::read_duration(const Field& f, const std::string& path, std::uint64_t lo,
                             std::uint64_t hi, T& out) {
  return read_number(f, path, lo, hi, out, parse_duration, format_duration);
}

template <class Format>
void Document::not_above(const std::string& prefix, std::string_view key, std::uint64_t value,
                         std::string_view cap_key, std::uint64_t cap, const SourceMark& fallback,
                         Format format) {
  if (value <= cap) {
    return;
  }
  const std::string path = prefix + "." + std::string(key);
  error(mark_of(path, mark_of(prefix + "." + std::string(cap_key), fallback)),
        path + " (" + format(value) + ") must not exceed " + std::string(cap_key) + " (" +
            format(cap) + ")");
}

template <class T>
bool Document::first_use(const std::vector<T>& siblings, const std::string& name,
                         const SourceMark& at, const std::string& path, std::string_view what,
                         std::string_view extra) {
  bool first = true;
  for (const T& other : siblings) {
    if (other.name == name) {
      error(at, path + ": duplicate " + std::string(what) + " " + quote(name) + std::string(extra) +
                    " (" + first_at(other.mark) + ")");
      first = false;
    }
  }
  return first;
}

template <class T>
void Document::read_unique_name(const Field& f, const std::string& path,
                                const std::vector<T>& siblings, std::string_view what,
                                std::string_view extra, std::string& out) {
  auto text = scalar(f, path);
  if (!text || !check_name(*text, value_mark(f), path)) {
    return;
  }
  first_use(siblings, *text, value_mark(f), path, what, extra);
  out = *text;
}

}  // namespace gh::policy
