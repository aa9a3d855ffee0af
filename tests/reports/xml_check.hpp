// A strict XML well-formedness check for the tests (XML 1.0 section 2 subset: prolog,
// DOCTYPE, comments, elements, quoted attributes, the five named entities and character
// references; no CDATA, no DTD internals). Returns "" if well-formed, else what is wrong.
#pragma once

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace verinit::test {

inline std::string xml_error(std::string_view xml) {
  std::vector<std::string> open;
  std::size_t i = 0, roots = 0;
  const auto at = [&](std::size_t k) { return " at byte " + std::to_string(k); };
  const auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' ||
           c == '.';
  };
  const auto check_text = [&](std::string_view text, std::size_t offset) -> std::string {
    for (std::size_t k = 0; k < text.size(); ++k) {
      if (text[k] == '<') return "raw '<'" + at(offset + k);
      if (text[k] != '&') continue;
      const std::size_t end = text.find(';', k);
      if (end == std::string_view::npos) return "unterminated entity" + at(offset + k);
      const std::string_view entity = text.substr(k + 1, end - k - 1);
      const bool named = entity == "amp" || entity == "lt" || entity == "gt" || entity == "quot" ||
                         entity == "apos";
      bool numeric = entity.size() > 1 && entity[0] == '#';
      for (std::size_t e = 1; numeric && e < entity.size(); ++e)
        numeric =
            std::isxdigit(static_cast<unsigned char>(entity[e])) || (e == 1 && entity[e] == 'x');
      if (!named && !numeric) return "bad entity '&" + std::string(entity) + ";'" + at(offset + k);
      k = end;
    }
    return "";
  };
  while (i < xml.size()) {
    if (xml[i] != '<') {
      const std::size_t next = std::min(xml.find('<', i), xml.size());
      const std::string_view text = xml.substr(i, next - i);
      if (open.empty() && text.find_first_not_of(" \t\r\n") != std::string_view::npos)
        return "text outside the root" + at(i);
      if (auto e = check_text(text, i); !e.empty()) return e;
      i = next;
      continue;
    }
    if (xml.substr(i, 4) == "<!--") {
      const std::size_t end = xml.find("-->", i + 4);
      if (end == std::string_view::npos) return "unterminated comment" + at(i);
      i = end + 3;
      continue;
    }
    if (xml.substr(i, 2) == "<?" || xml.substr(i, 9) == "<!DOCTYPE") {
      if (!open.empty() || roots > 0) return "prolog inside the document" + at(i);
      const std::size_t end = xml.find('>', i);
      if (end == std::string_view::npos) return "unterminated prolog" + at(i);
      i = end + 1;
      continue;
    }
    const bool closing = xml.substr(i, 2) == "</";
    std::size_t k = i + (closing ? 2 : 1);
    const std::size_t name_start = k;
    while (k < xml.size() && name_char(xml[k])) ++k;
    const std::string name(xml.substr(name_start, k - name_start));
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
      return "bad tag name" + at(i);
    if (closing) {
      while (k < xml.size() && std::isspace(static_cast<unsigned char>(xml[k]))) ++k;
      if (k >= xml.size() || xml[k] != '>') return "bad closing tag" + at(i);
      if (open.empty() || open.back() != name)
        return "closing </" + name + "> does not match <" + (open.empty() ? "" : open.back()) +
               ">" + at(i);
      open.pop_back();
      i = k + 1;
      continue;
    }
    std::vector<std::string> attributes;
    bool self_closing = false;
    for (;;) {
      const std::size_t before = k;
      while (k < xml.size() && std::isspace(static_cast<unsigned char>(xml[k]))) ++k;
      if (k >= xml.size()) return "unterminated tag <" + name + ">" + at(i);
      if (xml[k] == '>') break;
      if (xml.substr(k, 2) == "/>") {
        self_closing = true;
        ++k;
        break;
      }
      if (k == before) return "no space before an attribute" + at(k);
      const std::size_t a = k;
      while (k < xml.size() && name_char(xml[k])) ++k;
      const std::string attribute(xml.substr(a, k - a));
      if (attribute.empty() || k >= xml.size() || xml[k] != '=') return "bad attribute" + at(a);
      for (const auto& seen : attributes)
        if (seen == attribute) return "duplicate attribute " + attribute + at(a);
      attributes.push_back(attribute);
      const char quote = xml[++k];
      if (quote != '"' && quote != '\'') return "unquoted attribute" + at(k);
      const std::size_t end = xml.find(quote, k + 1);
      if (end == std::string_view::npos) return "unterminated attribute" + at(k);
      if (auto e = check_text(xml.substr(k + 1, end - k - 1), k + 1); !e.empty()) return e;
      k = end + 1;
    }
    if (open.empty() && ++roots > 1) return "a second root element" + at(i);
    if (!self_closing) open.push_back(name);
    i = k + 1;
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  if (roots != 1) return "no root element";
  return "";
}

}  // namespace verinit::test
