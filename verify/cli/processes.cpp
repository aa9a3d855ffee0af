// MPI's world for the CLI, through the C API, or one process where the build has no MPI.
#include "processes.hpp"

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <stdexcept>

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
  check(MPI_Gather(&own, 1, MPI_INT64_T, sizes.data(), 1, MPI_INT64_T, 0, MPI_COMM_WORLD),
        "MPI_Gather");
  std::int64_t total = 0;
  if (rank_ == 0) total = std::accumulate(sizes.begin(), sizes.end(), std::int64_t{0});
  check(MPI_Bcast(&total, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
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
    check(MPI_Gatherv(mine.data(), static_cast<int>(own), MPI_BYTE, all.data(), counts.data(),
                      offsets.data(), MPI_BYTE, 0, MPI_COMM_WORLD),
          "MPI_Gatherv");
    if (rank_ == 0)
      for (int r = 0; r < size_; ++r)
        out.emplace_back(all.begin() + offsets[static_cast<std::size_t>(r)],
                         all.begin() + offsets[static_cast<std::size_t>(r)] +
                             counts[static_cast<std::size_t>(r)]);
    return out;
  }
  // Beyond an int's count: rank by rank, in pieces.
  if (rank_ != 0) {
    for (std::int64_t at = 0; at < own; at += piece_bytes)
      check(MPI_Send(mine.data() + at, static_cast<int>(std::min(piece_bytes, own - at)), MPI_BYTE,
                     0, 0, MPI_COMM_WORLD),
            "MPI_Send");
    return out;
  }
  out.push_back(mine);
  for (int r = 1; r < size_; ++r) {
    std::vector<std::byte>& share = out.emplace_back(static_cast<std::size_t>(sizes[r]));
    for (std::int64_t at = 0; at < sizes[r]; at += piece_bytes)
      check(MPI_Recv(share.data() + at, static_cast<int>(std::min(piece_bytes, sizes[r] - at)),
                     MPI_BYTE, r, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
            "MPI_Recv");
  }
  return out;
#else
  return {mine};
#endif
}

int processes::broadcast(int value) {
#ifdef VERINIT_WITH_MPI
  if (distributed_) check(MPI_Bcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast");
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
