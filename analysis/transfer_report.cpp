// report.html writer (see transfer_report.h).
#include "analysis/transfer_report.h"

#include <cmath>

#include <fmt/format.h>

#include "train/svg_text.h"

namespace dispa::analysis {

namespace {
std::string esc(const std::string& s) { return train::svg::escape_xml(s); }
std::string num(double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : "NA"; }
}  // namespace

std::string transfer_report_html(const TransferReport& r) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += fmt::format("<title>{}</title>\n", esc(r.title));
  h += R"(<style>
body{font-family:sans-serif;margin:24px;max-width:1100px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.facts td{text-align:left}.warn{background:#fff4e0;border-left:4px solid #e69500;padding:6px 10px;margin:6px 0}
.maps{display:flex;flex-wrap:wrap;gap:16px}.map{border:1px solid #eee;padding:4px}
.note{color:#555;font-size:13px}
</style></head><body>
)";
  h += fmt::format("<h1>{}</h1>\n", esc(r.title));
  h += "<table class=\"facts\">\n";
  for (const auto& [k, v] : r.facts) h += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(v));
  h += "</table>\n";
  if (!r.warnings.empty()) {
    h += "<h2>Warnings</h2>\n";
    for (const std::string& w : r.warnings) h += fmt::format("<div class=\"warn\">{}</div>\n", esc(w));
  }
  if (!r.maps.empty()) {
    h += "<h2>Spatial maps</h2>\n<p class=\"note\">Each disc is a spot at its position, coloured by the predicted ln "
         "IC50 of the drug (dark: lower, predicted more sensitive; yellow: higher). The scale is per map. Hover a spot "
         "for its barcode and value.</p>\n<div class=\"maps\">\n";
    for (const auto& m : r.maps)
      h += fmt::format("<div class=\"map\">{}<br><a href=\"{}\">PNG</a></div>\n", m.svg, esc(m.png_file));
    h += "</div>\n";
  }
  if (!r.labels.empty()) {
    h += "<h2>Mean prediction by label</h2>\n<table><tr><th>drug</th>";
    for (const std::string& l : r.labels) h += fmt::format("<th>{}</th>", esc(l));
    h += "</tr>\n";
    for (size_t d = 0; d < r.drugs.size() && d < r.label_means.size(); ++d) {
      h += fmt::format("<tr><td>{}</td>", esc(r.drugs[d].drug));
      for (double v : r.label_means[d]) h += fmt::format("<td>{}</td>", num(v));
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  h += "<h2>Predictions by drug</h2>\n<p class=\"note\">Predicted ln IC50 (µM) over all units, lowest mean "
       "first.</p>\n<table><tr><th>drug</th><th>n</th><th>mean</th><th>sd</th><th>min</th><th>max</th></tr>\n";
  for (const DrugSummaryRow& d : r.drugs)
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", esc(d.drug), d.n,
                     num(d.mean), num(d.sd), num(d.min), num(d.max));
  h += "</table>\n";
  if (!r.notes.empty()) {
    h += "<h2>Limits</h2>\n<ul class=\"note\">\n";
    for (const std::string& n : r.notes) h += fmt::format("<li>{}</li>\n", esc(n));
    h += "</ul>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace dispa::analysis
