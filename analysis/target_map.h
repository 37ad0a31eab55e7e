// What a GDSC drug is known to act on, in the model's pathway vocabulary (KEGG, the 2011 snapshot
// of pathways_kegg.gmt), two ways:
//  * by class: GDSC's `target_pathway` annotation (drugs.tsv) -> KEGG pathways, the table below
//    (default_target_map; docs/INTERPRETABILITY.md prints it with the reasons). Classes without a
//    KEGG counterpart (chromatin, metabolism, hormone-related, "Other", "Unclassified") are left
//    unmapped, and KEGG pathways the model dropped (fewer than 5 expressed genes) are ignored;
//  * by target genes: the KEGG pathways of the GMT whose gene set contains one of the drug's
//    `targets` (comma-separated gene symbols).
// And the two compound groups the structure/context analysis compares (drug_group).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace dispa::analysis {

struct TargetMapEntry {
  std::string target_pathway;  // GDSC class, e.g. "EGFR signaling"
  std::string kegg_id;         // e.g. "hsa04012"
  std::string reason;          // why (one line)
};

std::vector<TargetMapEntry> default_target_map();
// A TSV with a header naming `target_pathway` and `kegg_id` (a `reason` column is optional);
// errors name the file and line.
std::vector<TargetMapEntry> read_target_map(const std::filesystem::path& file);

// "cytotoxic" (DNA replication, Genome integrity, Mitosis), "targeted" (kinase-signalling classes:
// RTK, EGFR, ERK MAPK, PI3K/MTOR, IGF1R, ABL, JNK and p38, "Other, kinases") or "other".
std::string drug_group(const std::string& target_pathway);

// Gene symbols of a `targets` field ("EGFR, ERBB2" -> {"EGFR", "ERBB2"}), upper-cased.
std::vector<std::string> target_genes(const std::string& targets);

}  // namespace dispa::analysis
