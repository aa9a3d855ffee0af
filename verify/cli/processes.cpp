// MPI's world for the CLI, through the C API, or one process where the build has no MPI.
#include "processes.hpp"

#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <stdexcept>
#include <thread>

#ifdef VERINIT_WITH_MPI
#include <mpi.h>
#endif

namespace verinit::cli {

bool built_with_mpi() noexcept {
#ifdef VERINIT_WITH_MPI
  return true;
#else
  return false;
#endif
}

namespace {

// Variables the launchers set in the processes they start: Open MPI's mpirun, PMI (MPICH's
// hydra, Slurm's srun) and PMIx.
bool started_by_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

#ifdef VERINIT_WITH_MPI
void check(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, length));
}

// Larger shares go rank by rank in pieces of this many bytes (MPI counts are ints).
constexpr std::int64_t piece_bytes = std::int64_t{1} << 30;

// Waits for a nonblocking operation without spinning: a rank that finished its share waits
// for the others, and Open MPI's blocking calls poll at 100% of a core, which on a host with
// more ranks than cores takes the core from a rank still working (measured: the smoke battery's
// slowest share 6.5 s instead of 0.9 s under mpiexec -n 3 on 2 cores).
void wait_gently(MPI_Request& request, const char* call) {
  int done = 0;
  for (int polls = 0;; ++polls) {
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), call);
    if (done != 0) return;
    // Poll at once for a while (fast collectives), then every 0.2 ms.
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}
#endif

}  // namespace

namespace {
processes* joined = nullptr;  // the world, once world() made it
}  // namespace

processes& processes::world() {
  static processes instance;
  joined = &instance;
  return instance;
}

void processes::abort_all(int code) {
  if (joined != nullptr) joined->abort(code);
}

processes::processes() {
#ifdef VERINIT_WITH_MPI
  if (!started_by_launcher()) return;
  check(MPI_Init(nullptr, nullptr), "MPI_Init");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  distributed_ = true;
#endif
}

processes::~processes() {
#ifdef VERINIT_WITH_MPI
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (distributed_ && finalized == 0) MPI_Finalize();
#endif
}

std::vector<std::vector<std::byte>> processes::gather(const std::vector<std::byte>& mine) {
  if (!distributed_) return {mine};
#ifdef VERINIT_WITH_MPI
  const auto own = static_cast<std::int64_t>(mine.size());
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(size_));
  MPI_Request request;
  check(
      MPI_Igather(&own, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, 0, MPI_COMM_WORLD, &request),
      "MPI_Igather");
  wait_gently(request, "MPI_Igather");
  std::int64_t total = 0;
  if (rank_ == 0) total = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
  check(MPI_Ibcast(&total, 1, MPI_INT64_T, 0, MPI_COMM_WORLD, &request), "MPI_Ibcast");
  wait_gently(request, "MPI_Ibcast");
  std::vector<std::vector<std::byte>> out;
  if (total <= INT_MAX) {
    std::vector<int> counts, offsets;
    std::vector<std::byte> all;
    if (rank_ == 0) {
      int at = 0;
      for (const std::int64_t s : sizes) {
        counts.push_back(static_cast<int>(s));
        offsets.push_back(at);
        at += static_cast<int>(s);
      }
      all.resize(static_cast<std::size_t>(total));
    }
    check(MPI_Igatherv(mine.data(), static_cast<int>(own), MPI_BYTE, all.data(), counts.data(),
                       offsets.data(), MPI_BYTE, 0, MPI_COMM_WORLD, &request),
          "MPI_Igatherv");
    wait_gently(request, "MPI_Igatherv");
    if (rank_ == 0)
      for (int r = 0; r < size_; ++r)
        out.emplace_back(all.begin() + offsets[static_cast<std::size_t>(r)],
                         all.begin() + offsets[static_cast<std::size_t>(r)] +
                             counts[static_cast<std::size_t>(r)]);
    return out;
  }
  // Beyond an int's count: rank by rank, in pieces.
  if (rank_ != 0) {
    for (std::int64_t at = 0; at < own; at += piece_bytes) {
      check(MPI_Isend(mine.data() + at, static_cast<int>(std::min(piece_bytes, own - at)), MPI_BYTE,
                      0, 0, MPI_COMM_WORLD, &request),
            "MPI_Isend");
      wait_gently(request, "MPI_Isend");
    }
    return out;
  }
  out.push_back(mine);
  for (int r = 1; r < size_; ++r) {
    std::vector<std::byte>& share = out.emplace_back(static_cast<std::size_t>(sizes[r]));
    for (std::int64_t at = 0; at < sizes[r]; at += piece_bytes) {
      check(MPI_Irecv(share.data() + at, static_cast<int>(std::min(piece_bytes, sizes[r] - at)),
                      MPI_BYTE, r, 0, MPI_COMM_WORLD, &request),
            "MPI_Irecv");
      wait_gently(request, "MPI_Irecv");
    }
  }
  return out;
#else
  return {mine};
#endif
}

int processes::broadcast(int value) {
#ifdef VERINIT_WITH_MPI
  if (distributed_) {
    MPI_Request request;
    check(MPI_Ibcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD, &request), "MPI_Ibcast");
    wait_gently(request, "MPI_Ibcast");
  }
#endif
  return value;
}

void processes::abort(int code) {
#ifdef VERINIT_WITH_MPI
  if (distributed_ && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
#else
  (void)code;
#endif
}

}  // namespace verinit::cli
