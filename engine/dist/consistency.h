// Start-up check that every rank runs the same job. Each rank lists what must agree as (key,
// value) items (parameter names and shapes, the configuration, ...); the ranks compare one 64-bit
// hash of the list and, only when the hashes differ, exchange the lists to name the first
// difference. Every rank then fails with the same message, instead of hanging in mismatched
// collectives later or, worse, averaging the gradients of different models.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/dist/communicator.h"

namespace dispa::dist {

struct CheckItem {
  std::string key, value;
};

uint64_t fnv1a64(std::string_view bytes);

// Throws on every rank when any rank's items differ from rank 0's: "<what> differs between ranks:
// rank 2 has 'parameter x' = '[8, 16]' where rank 0 has '[8, 24]'". Two collectives (one when equal).
void check_same_on_all_ranks(Communicator& comm, const std::vector<CheckItem>& items, const std::string& what);

// The first difference between two lists, "" when equal (the message body above; for tests).
std::string first_difference(const std::vector<CheckItem>& rank0, const std::vector<CheckItem>& other, int other_rank);

}  // namespace dispa::dist
