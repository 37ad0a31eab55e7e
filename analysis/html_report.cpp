// Self-contained HTML report (see html_report.h).
#include "analysis/html_report.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

namespace dispa::analysis {

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {
// A cell reads as a number when all of it parses as one, or up to a " ± ..." / " (...)" tail
// ("0.52 ± 0.01", "0.61 (p 0.03)"); "5-Fluorouracil" does not.
bool looks_numeric(const std::string& s) {
  if (s.empty() || s == "NA") return s == "NA";
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return false;
  const std::string rest(end);
  return rest.empty() || rest.rfind(" \u00b1", 0) == 0 || rest.rfind(" (", 0) == 0;
}
}  // namespace

HtmlReport::HtmlReport(std::string title) : title_(std::move(title)) {}

void HtmlReport::heading(const std::string& text, int level) {
  level = std::clamp(level, 1, 4);
  body_ += fmt::format("<h{0}>{1}</h{0}>\n", level, escape_html(text));
}

void HtmlReport::paragraph(const std::string& text) { body_ += "<p>" + escape_html(text) + "</p>\n"; }

void HtmlReport::code(const std::string& text) { body_ += "<pre>" + escape_html(text) + "</pre>\n"; }

void HtmlReport::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                       const std::string& caption) {
  body_ += "<table>\n";
  if (!caption.empty()) body_ += "<caption>" + escape_html(caption) + "</caption>\n";
  body_ += "<tr>";
  for (const std::string& h : header) body_ += "<th>" + escape_html(h) + "</th>";
  body_ += "</tr>\n";
  for (const auto& row : rows) {
    body_ += "<tr>";
    for (const std::string& cell : row)
      body_ += (looks_numeric(cell) ? "<td class=\"n\">" : "<td>") + escape_html(cell) + "</td>";
    body_ += "</tr>\n";
  }
  body_ += "</table>\n";
}

void HtmlReport::figure(const std::string& svg, const std::string& caption) {
  // The XML prolog of a stand-alone SVG file is not allowed inside HTML.
  const size_t root = svg.find("<svg");
  body_ += "<figure>\n" + (root == std::string::npos ? svg : svg.substr(root)) + "<figcaption>" + escape_html(caption) +
           "</figcaption>\n</figure>\n";
}

std::string HtmlReport::str() const {
  return fmt::format(R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{0}</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }}
h1 {{ font-size: 1.6em; }} h2 {{ font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f0f0f0; }} td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
caption {{ caption-side: top; text-align: left; font-style: italic; padding: 4px 0; }}
figure {{ margin: 1.5em 0; }} figure svg {{ max-width: 100%; height: auto; }} figcaption {{ font-size: 0.9em; color: #444; }}
pre {{ background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }}
</style>
</head>
<body>
<h1>{0}</h1>
{1}</body>
</html>
)",
                     escape_html(title_), body_);
}

}  // namespace dispa::analysis
