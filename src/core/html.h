// Escaping for Gatehouse's own pages (challenge, waiting room): text into HTML, and operator CSS
// inlined into a <style> element.
#pragma once

#include <string>
#include <string_view>

namespace gh::core {

// Text (and attribute values in double or single quotes) into HTML.
inline void append_html_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
}

// CSS inside <style>: HTML escaping would corrupt it, so every '<' becomes the CSS escape
// "\3c " (same meaning to CSS), and "</style>" can never close the element early.
inline void append_css_inlined(std::string& out, std::string_view css) {
  for (char c : css) {
    if (c == '<') {
      out += "\\3c ";
    } else {
      out += c;
    }
  }
}

}  // namespace gh::core
