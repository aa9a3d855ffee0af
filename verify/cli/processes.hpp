// The processes one `verinit` command runs in: MPI's world when the build has MPI
// (-DVERINIT_MPI=ON) and a launcher (mpirun, mpiexec, srun) started this process, else this
// process alone. MPI_Init costs 0.3-0.5 s (../shared/research/distributed.md): a plain
// `verinit` never calls it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace verinit::cli {

class processes {
 public:
  /// The processes of this command, MPI joined on first use where a launcher started it.
  static processes& world();

  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  /// Whether MPI is running (a launcher started this process): then the work is split by rank,
  /// even for one rank.
  bool distributed() const noexcept { return distributed_; }

  /// Each rank's bytes, in rank order, at rank 0 (empty elsewhere). A rank's share travels
  /// whole: MPI_Gatherv below 2 GiB in all, rank-ordered sends in 1 GiB pieces beyond.
  std::vector<std::vector<std::byte>> gather(const std::vector<std::byte>& mine);
  /// Rank 0's value at every rank.
  int broadcast(int value);
  /// Ends every rank's process with `code` (after an error on this rank, which may leave the
  /// others waiting in a collective). Returns (doing nothing) when not distributed.
  void abort(int code);

  /// abort() of the world, if this command made it (never joins MPI itself).
  static void abort_all(int code);

  processes(const processes&) = delete;
  processes& operator=(const processes&) = delete;
  ~processes();

 private:
  processes();
  int rank_ = 0, size_ = 1;
  bool distributed_ = false;
};

/// Whether this build can join MPI's world (-DVERINIT_MPI=ON).
bool built_with_mpi() noexcept;

}  // namespace verinit::cli
