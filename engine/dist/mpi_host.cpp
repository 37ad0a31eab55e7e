#include "engine/dist/mpi_host.h"

#include <array>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include "engine/dist/backends.h"
#include "engine/log.h"

namespace dispa::dist {
namespace {

constexpr int kQueryTag = 101, kAnswerTag = 102;
constexpr int kAnswerBytes = 512;

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, size_t(length));
}

#define DISPA_MPI_CHECK(call)                                                                     \
  do {                                                                                            \
    const int dispa_rc_ = (call);                                                                 \
    if (dispa_rc_ != MPI_SUCCESS) ::dispa::fail("{} failed: {}", #call, mpi_error_text(dispa_rc_)); \
  } while (0)

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
  }
  fail("MPI: unsupported dtype");
}

// MPI_Finalize at process exit, once, whoever initialised: a communicator can be made and
// destroyed several times in one process (tests), but MPI can be initialised only once.
struct MpiProcess {
  bool thread_multiple = false;
  MpiProcess() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    int provided = MPI_THREAD_SINGLE;
    if (!initialized) {
      DISPA_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
    } else {
      MPI_Query_thread(&provided);
    }
    thread_multiple = provided >= MPI_THREAD_MULTIPLE;
  }
  ~MpiProcess() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
};

MpiProcess& mpi_process() {
  static MpiProcess process;
  return process;
}

// Elements per MPI call: counts are int.
constexpr int64_t kMaxChunk = INT_MAX / 8;

}  // namespace

MpiHost::MpiHost() {
  thread_multiple_ = mpi_process().thread_multiple;
  DISPA_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &data_));
  DISPA_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &watch_));
  // Errors come back as codes (and become dispa::Error) instead of aborting inside MPI.
  MPI_Comm_set_errhandler(data_, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(watch_, MPI_ERRORS_RETURN);
  MPI_Comm_rank(data_, &rank_);
  MPI_Comm_size(data_, &size_);
  host_ = local_host_name();
  const LaunchInfo launch = launch_info_from_environment();
  DISPA_CHECK(!launch.launched || ((launch.size == 0 || launch.size == size_) && launch.rank == rank_),
              "the launcher's environment says {}, but MPI says rank {} of {}: dispa was probably started by the "
              "launcher of another MPI than the one it was built with (OpenMPI); use OpenMPI's mpirun, or srun "
              "--mpi=pmix",
              launch.describe(), rank_, size_);
  if (launch.launched && launch.source != "PMIx") {
    local_rank_ = launch.local_rank;
  } else {  // ranks that share this node's memory, numbered in world order
    MPI_Comm node = MPI_COMM_NULL;
    DISPA_MPI_CHECK(MPI_Comm_split_type(data_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_free(&node);
  }
  if (!thread_multiple_ && size_ > 1)
    logging::warn("rank {}: MPI gives no MPI_THREAD_MULTIPLE: on a timeout the watchdog aborts without asking the "
                  "other ranks where they are",
                  rank_);
}

MpiHost::~MpiHost() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (watch_ != MPI_COMM_NULL) MPI_Comm_free(&watch_);
  if (data_ != MPI_COMM_NULL) MPI_Comm_free(&data_);
}

void MpiHost::all_reduce(void* data, int64_t count, DType dtype, ReduceOp op) {
  DISPA_CHECK(op == ReduceOp::sum || is_floating(dtype), "all_reduce: avg needs a floating dtype, got {}",
              dtype_name(dtype));
  char* bytes = static_cast<char*>(data);
  for (int64_t done = 0; done < count; done += kMaxChunk) {
    const int n = static_cast<int>(std::min(kMaxChunk, count - done));
    DISPA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, bytes + done * int64_t(dtype_size(dtype)), n, mpi_type(dtype), MPI_SUM,
                                  data_));
  }
  if (op == ReduceOp::avg) {  // the same division on every rank, so results stay identical
    if (dtype == DType::f32) {
      float* p = static_cast<float*>(data);
      for (int64_t i = 0; i < count; ++i) p[i] /= float(size_);
    } else {
      double* p = static_cast<double*>(data);
      for (int64_t i = 0; i < count; ++i) p[i] /= double(size_);
    }
  }
}

void MpiHost::broadcast(void* data, int64_t nbytes, int root) {
  char* bytes = static_cast<char*>(data);
  for (int64_t done = 0; done < nbytes; done += kMaxChunk) {
    const int n = static_cast<int>(std::min(kMaxChunk, nbytes - done));
    DISPA_MPI_CHECK(MPI_Bcast(bytes + done, n, MPI_BYTE, root, data_));
  }
}

std::vector<std::string> MpiHost::all_gather(const std::string& mine) {
  DISPA_CHECK(mine.size() < size_t(INT_MAX / std::max(1, size_)), "all_gather_bytes: {} bytes is too much",
              mine.size());
  const int n = static_cast<int>(mine.size());
  std::vector<int> sizes(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
  DISPA_MPI_CHECK(MPI_Allgather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, data_));
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[size_t(r)] = total;
    total += sizes[size_t(r)];
  }
  std::string all(size_t(total), '\0');
  DISPA_MPI_CHECK(MPI_Allgatherv(mine.data(), n, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, data_));
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) out.push_back(all.substr(size_t(offsets[size_t(r)]), size_t(sizes[size_t(r)])));
  return out;
}

void MpiHost::barrier() { DISPA_MPI_CHECK(MPI_Barrier(data_)); }

void MpiHost::answer_queries(uint64_t waiting_seq, const std::string& status) {
  if (!thread_multiple_) return;
  for (;;) {
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, kQueryTag, watch_, &flag, &st) != MPI_SUCCESS || !flag) return;
    uint64_t their_seq = 0;
    MPI_Recv(&their_seq, 1, MPI_UINT64_T, st.MPI_SOURCE, kQueryTag, watch_, MPI_STATUS_IGNORE);
    std::array<char, kAnswerBytes> answer{};
    const std::string text = fmt::format("{} {}", waiting_seq, status).substr(0, kAnswerBytes - 1);
    std::copy(text.begin(), text.end(), answer.begin());
    // Small enough for MPI's eager protocol: returns without waiting for the asking rank.
    MPI_Send(answer.data(), kAnswerBytes, MPI_CHAR, st.MPI_SOURCE, kAnswerTag, watch_);
  }
}

std::string MpiHost::ask_peers(uint64_t seq, double wait_s, const std::string& my_status) {
  if (!thread_multiple_) return "(no MPI_THREAD_MULTIPLE: the other ranks were not asked)";
  const size_t n = size_t(size_);
  std::vector<std::array<char, kAnswerBytes>> answers(n);
  std::vector<MPI_Request> recv(n, MPI_REQUEST_NULL), send(n, MPI_REQUEST_NULL);
  std::vector<bool> got(n, false);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    MPI_Irecv(answers[size_t(r)].data(), kAnswerBytes, MPI_CHAR, r, kAnswerTag, watch_, &recv[size_t(r)]);
    MPI_Isend(&seq, 1, MPI_UINT64_T, r, kQueryTag, watch_, &send[size_t(r)]);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  int missing = size_ - 1;
  while (missing > 0 && std::chrono::steady_clock::now() < deadline) {
    for (int r = 0; r < size_; ++r) {
      if (r == rank_ || got[size_t(r)]) continue;
      int done = 0;
      MPI_Test(&recv[size_t(r)], &done, MPI_STATUS_IGNORE);
      if (done) {
        got[size_t(r)] = true;
        --missing;
      }
    }
    answer_queries(seq, my_status);  // peers that timed out too are asking this rank
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<std::string> elsewhere, silent;
  int waiting_too = 0;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    if (!got[size_t(r)]) {
      silent.push_back(std::to_string(r));
      continue;
    }
    const std::string text(answers[size_t(r)].data());
    const size_t space = text.find(' ');
    const uint64_t their_seq = std::strtoull(text.c_str(), nullptr, 10);
    if (their_seq == seq)
      ++waiting_too;
    else
      elsewhere.push_back(fmt::format("rank {} is {}", r, space == std::string::npos ? text : text.substr(space + 1)));
  }
  std::string report;
  for (const std::string& e : elsewhere) report += "\n  " + e;
  if (!silent.empty())
    report += fmt::format("\n  no answer within {:.0f} s from rank(s) {} (dead, or stuck outside dispa)", wait_s,
                          fmt::join(silent, ", "));
  report += fmt::format("\n  {} other rank(s) wait in #{} too", waiting_too, seq);
  return report;
}

void MpiHost::abort_job(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void abort_job_after_error(int exit_code) {
  int initialized = 0, finalized = 0, size = 1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
}

}  // namespace dispa::dist
