// A self-contained HTML page built by appending sections: headings, paragraphs, tables and inline
// SVG figures. No scripts, no external files (one file opens anywhere, also offline); text is
// escaped, SVG is inserted as written by the figure helpers.
#pragma once
#include <string>
#include <vector>

namespace dispa::analysis {

class HtmlReport {
 public:
  explicit HtmlReport(std::string title);
  void heading(const std::string& text, int level = 2);
  void paragraph(const std::string& text);  // escaped; blank-line-free plain text
  void code(const std::string& text);       // preformatted (commands)
  // A table; cells that read as numbers are right-aligned. Cells are escaped.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
             const std::string& caption = {});
  void figure(const std::string& svg, const std::string& caption);
  std::string str() const;  // the whole document

 private:
  std::string title_, body_;
};

std::string escape_html(const std::string& text);

}  // namespace dispa::analysis
