// GDSC target annotations in KEGG terms (see target_map.h).
#include "analysis/target_map.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "engine/error.h"
#include "train/tsv_reader.h"

namespace dispa::analysis {

std::vector<TargetMapEntry> default_target_map() {
  return {
      {"EGFR signaling", "hsa04012", "EGFR is ERBB1: the ErbB signaling pathway"},
      {"ERK MAPK signaling", "hsa04010", "RAF/MEK/ERK inhibitors act on the MAPK cascade"},
      {"RTK signaling", "hsa04010", "receptor tyrosine kinases (FGFR, PDGFR, KIT, MET, ...) signal through MAPK"},
      {"RTK signaling", "hsa04370", "VEGFR inhibitors: VEGF signaling pathway"},
      {"PI3K/MTOR signaling", "hsa04150", "mTOR signaling pathway (PI3K-Akt is not in the 2011 KEGG snapshot)"},
      {"PI3K/MTOR signaling", "hsa04070", "phosphatidylinositol signaling system (the PI3K lipid kinases)"},
      {"IGF1R signaling", "hsa04910", "IGF1R/INSR -> IRS -> PI3K: insulin signaling pathway"},
      {"ABL signaling", "hsa05220", "BCR-ABL: chronic myeloid leukemia"},
      {"JNK and p38 signaling", "hsa04010", "JNK and p38 are MAPK branches"},
      {"Cell cycle", "hsa04110", "CDK and checkpoint kinases: cell cycle"},
      {"Mitosis", "hsa04110", "mitotic kinases, tubulin: cell cycle (M phase)"},
      {"Mitosis", "hsa04114", "oocyte meiosis (shares the mitotic machinery: PLK, AURK, CDC20)"},
      {"DNA replication", "hsa03030", "DNA replication"},
      {"DNA replication", "hsa00230", "purine metabolism (antimetabolites)"},
      {"DNA replication", "hsa00240", "pyrimidine metabolism (antimetabolites)"},
      {"Genome integrity", "hsa03410", "base excision repair (PARP)"},
      {"Genome integrity", "hsa03420", "nucleotide excision repair"},
      {"Genome integrity", "hsa03430", "mismatch repair"},
      {"Genome integrity", "hsa03440", "homologous recombination (ATR/ATM/PARP synthetic lethality)"},
      {"Genome integrity", "hsa03450", "non-homologous end-joining (DNA-PK)"},
      {"p53 pathway", "hsa04115", "p53 signaling pathway (MDM2 inhibitors)"},
      {"Apoptosis regulation", "hsa04210", "BCL2 family, IAPs: apoptosis"},
      {"WNT signaling", "hsa04310", "Wnt signaling pathway"},
      {"Protein stability and degradation", "hsa03050", "proteasome inhibitors"},
      {"Protein stability and degradation", "hsa04120", "ubiquitin mediated proteolysis"},
      {"Protein stability and degradation", "hsa04141", "HSP90: protein processing in the endoplasmic reticulum"},
      {"Cytoskeleton", "hsa04810", "regulation of actin cytoskeleton"},
  };
}

std::vector<TargetMapEntry> read_target_map(const std::filesystem::path& file) {
  train::TsvReader reader(file);
  const int klass = reader.column("target_pathway"), kegg = reader.column("kegg_id");
  const int reason = reader.find_column("reason");
  std::vector<TargetMapEntry> out;
  while (reader.next()) {
    DISPA_CHECK(!reader.field(klass).empty() && !reader.field(kegg).empty(), "{}: empty target_pathway or kegg_id",
                reader.where());
    out.push_back({reader.field(klass), reader.field(kegg), reason >= 0 ? reader.field(reason) : ""});
  }
  DISPA_CHECK(!out.empty(), "{}: the target map has no rows", file.string());
  return out;
}

std::string drug_group(const std::string& target_pathway) {
  static const std::set<std::string> cytotoxic = {"DNA replication", "Genome integrity", "Mitosis"};
  static const std::set<std::string> targeted = {"RTK signaling",       "EGFR signaling", "ERK MAPK signaling",
                                                 "PI3K/MTOR signaling", "IGF1R signaling", "ABL signaling",
                                                 "JNK and p38 signaling", "Other, kinases"};
  if (cytotoxic.count(target_pathway)) return "cytotoxic";
  if (targeted.count(target_pathway)) return "targeted";
  return "other";
}

std::vector<std::string> target_genes(const std::string& targets) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= targets.size()) {
    const size_t end = std::min(targets.find(',', start), targets.size());
    std::string g = targets.substr(start, end - start);
    const size_t first = g.find_first_not_of(" \t");
    g = first == std::string::npos ? std::string() : g.substr(first, g.find_last_not_of(" \t") - first + 1);
    std::transform(g.begin(), g.end(), g.begin(), [](unsigned char c) { return char(std::toupper(c)); });
    if (!g.empty() && g != "NA") out.push_back(g);
    start = end + 1;
  }
  return out;
}

}  // namespace dispa::analysis
