#include "engine/dist/consistency.h"

#include <nlohmann/json.hpp>

namespace dispa::dist {
namespace {

std::string shorten(const std::string& s) { return s.size() <= 80 ? s : s.substr(0, 77) + "..."; }

std::string serialise(const std::vector<CheckItem>& items) {
  nlohmann::json j = nlohmann::json::array();
  for (const CheckItem& item : items) j.push_back({item.key, item.value});
  return j.dump();
}

std::vector<CheckItem> deserialise(const std::string& text) {
  std::vector<CheckItem> items;
  for (const auto& pair : nlohmann::json::parse(text)) items.push_back({pair.at(0), pair.at(1)});
  return items;
}

}  // namespace

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;  // offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string first_difference(const std::vector<CheckItem>& rank0, const std::vector<CheckItem>& other,
                             int other_rank) {
  const size_t n = std::min(rank0.size(), other.size());
  for (size_t i = 0; i < n; ++i) {
    const CheckItem &a = rank0[i], &b = other[i];
    if (a.key != b.key)
      return fmt::format("item {}: rank {} has '{}' where rank 0 has '{}'", i + 1, other_rank, shorten(b.key),
                         shorten(a.key));
    if (a.value != b.value)
      return fmt::format("rank {} has '{}' = '{}' where rank 0 has '{}'", other_rank, shorten(a.key), shorten(b.value),
                         shorten(a.value));
  }
  if (rank0.size() != other.size()) {
    const bool longer = other.size() > rank0.size();
    const CheckItem& extra = longer ? other[n] : rank0[n];
    return fmt::format("rank {} has {} items, rank 0 has {}: the first extra one is '{}' on rank {}", other_rank,
                       other.size(), rank0.size(), shorten(extra.key), longer ? other_rank : 0);
  }
  return {};
}

void check_same_on_all_ranks(Communicator& comm, const std::vector<CheckItem>& items, const std::string& what) {
  const std::string mine = serialise(items);
  const uint64_t hash = fnv1a64(mine);
  const std::vector<std::string> hashes =
      comm.all_gather_bytes(std::string(reinterpret_cast<const char*>(&hash), sizeof hash));
  bool same = true;
  for (const std::string& h : hashes) same = same && h == hashes[0];
  if (same) return;
  // Every rank takes this branch (all see the same hashes), so the second collective matches too.
  const std::vector<std::string> lists = comm.all_gather_bytes(mine);
  const std::vector<CheckItem> rank0 = deserialise(lists[0]);
  for (int r = 1; r < comm.size(); ++r) {
    const std::string diff = first_difference(rank0, deserialise(lists[size_t(r)]), r);
    if (!diff.empty()) fail("start-up check: {} differs between ranks: {}", what, diff);
  }
  fail("start-up check: {} hashes differ between ranks but the lists are equal (a rank sent corrupt data)", what);
}

}  // namespace dispa::dist
