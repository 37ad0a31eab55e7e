// Internal to engine/dist: the constructors of the MPI and NCCL backends (mpi_communicator.cpp,
// nccl_communicator.cpp) as the factory in communicator.cpp sees them. In a build without MPI or
// NCCL they are stubs that fail with backend_unavailable_reason(), so no caller needs an #if.
#pragma once
#include <memory>
#include <string>

#include "engine/dist/communicator.h"

namespace dispa::dist {

std::unique_ptr<Communicator> make_mpi_communicator(const Settings& settings);
std::unique_ptr<Communicator> make_nccl_communicator(const Settings& settings);
std::string local_host_name();

}  // namespace dispa::dist
