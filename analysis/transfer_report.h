// report.html of `dispa transfer`: one self-contained page (no scripts, no external files other
// than the PNG maps it links; the SVG maps are inline) with what was run, the gene coverage, the
// warnings, the per-drug summary, the per-label means (labels x drugs) and the spatial maps.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace dispa::analysis {

struct DrugSummaryRow {
  std::string drug;
  int64_t n = 0;
  double mean = 0, sd = 0, min = 0, max = 0;
};

struct TransferReport {
  std::string title;
  std::vector<std::pair<std::string, std::string>> facts;  // label, value (plain text)
  std::vector<std::string> warnings;
  std::vector<std::string> notes;                           // limits, shown at the end
  std::vector<DrugSummaryRow> drugs;                        // in the order to show
  std::vector<std::string> labels;                          // columns of the label table
  std::vector<std::vector<double>> label_means;             // [drug row][label]
  struct Map {
    std::string drug, svg, png_file;                        // png_file relative to report.html
  };
  std::vector<Map> maps;
};

std::string transfer_report_html(const TransferReport& report);

}  // namespace dispa::analysis
