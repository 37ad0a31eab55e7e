// The start-up consistency check's difference messages, and the selftest's arithmetic and table
// (its multi-rank runs are in ranks_test.cpp and fault_e2e_test.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/dist/consistency.h"
#include "engine/dist/selftest.h"

using namespace dispa;
using namespace dispa::dist;

TEST_CASE("consistency: fnv1a64 is the standard 64-bit FNV-1a") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("consistency: the first difference names the rank, the item and both values") {
  const std::vector<CheckItem> a = {{"parameter w", "[4, 8] f32"}, {"config /embed_dim", "8"}};
  CHECK(first_difference(a, a, 1).empty());
  CHECK(first_difference(a, {{"parameter w", "[4, 8] f32"}, {"config /embed_dim", "16"}}, 2) ==
        "rank 2 has 'config /embed_dim' = '16' where rank 0 has '8'");
  CHECK(first_difference(a, {{"parameter v", "[4, 8] f32"}}, 1) ==
        "item 1: rank 1 has 'parameter v' where rank 0 has 'parameter w'");
  CHECK(first_difference(a, {a[0]}, 3) ==
        "rank 3 has 1 items, rank 0 has 2: the first extra one is 'config /embed_dim' on rank 0");
  const std::string long_value(200, 'x');
  const std::string d = first_difference({{"k", long_value}}, {{"k", "y"}}, 1);
  CHECK(d == "rank 1 has 'k' = 'y' where rank 0 has '" + std::string(77, 'x') + "...'");
}

TEST_CASE("consistency: one rank always agrees with itself") {
  auto comm = make_communicator(Backend::none, Settings());
  CHECK_NOTHROW(check_same_on_all_ranks(*comm, {{"a", "1"}}, "test"));
}

TEST_CASE("selftest: known values, and every kind of wrong element is counted") {
  CHECK(selftest_value(0, 0) == 1.f);
  CHECK(selftest_value(3, 13) == 4.f + 6.f);
  // The exact sums over 3 ranks: 6 + 3 * (i mod 7).
  std::vector<float> v(20);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(6 + 3 * (i % 7));
  CHECK(selftest_wrong(v, 3) == 0);
  v[4] += 1e-3f;
  v[9] = std::numeric_limits<float>::quiet_NaN();
  v[19] = std::numeric_limits<float>::infinity();
  CHECK(selftest_wrong(v, 3) == 3);
  CHECK(selftest_wrong(v, 2) == 20);  // summed over the wrong number of ranks: all wrong
}

TEST_CASE("selftest: one rank without a launcher checks and times every size") {
  auto comm = make_communicator(Backend::none, Settings());
  SelftestOptions o;
  o.sizes = {1, 1000, 4097};
  o.iters = 2;
  o.warmup = 1;
  const std::vector<SelftestRow> rows = selftest_rows(*comm, Device::cpu(), o);
  REQUIRE(rows.size() == 3);
  for (const SelftestRow& r : rows) {
    CHECK(r.wrong == 0);
    CHECK(r.bytes == 4 * r.count);
    CHECK(r.busbw_gbs == 0);  // 2(n-1)/n = 0 for one rank
    CHECK(std::isfinite(r.algbw_gbs));
  }
  CHECK(selftest_line(rows[1]).find("         4000          1000  float    sum") == 0);
  CHECK(selftest_header(*comm, Device::cpu()).find("# dispa selftest-dist: 1 rank(s), backend none, device cpu") == 0);
  o.sizes = {0};
  CHECK_THROWS_WITH(selftest_rows(*comm, Device::cpu(), o), "selftest-dist: size 0 is not in [1, 2^31] elements");
}
