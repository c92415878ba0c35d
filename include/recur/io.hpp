#pragma once
#include <string>
#include <string_view>

#include "model.hpp"

namespace recur {

// Rebuilds a model written by Sequential::save or Sequential::save_checkpoint: the layers,
// the weights, the compile settings and the metadata. From a checkpoint it also restores the
// optimizer's state, the number of epochs done (Sequential::epochs_done) and the model's
// random generator, so that fit(..., FitOptions().initial_epoch(m.epochs_done())) continues
// the interrupted run exactly. A file that is not a regular file, a damaged file, and one
// whose architecture or tensors are inconsistent or out of range give a recur::Error; every
// number in the architecture is checked before anything is allocated from it.
Sequential load_model(const std::string& path);

// Writes `contents` to `path` as Sequential::save writes a model: atomically, replacing only
// a regular file (keeping its permissions) or creating one, following a symbolic link.
void write_file(const std::string& path, std::string_view contents);

}  // namespace recur
