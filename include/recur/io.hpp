#pragma once
#include <string>

#include "model.hpp"

namespace recur {

// Rebuilds a model written by Sequential::save or Sequential::save_checkpoint: the layers,
// the weights and the compile settings. From a checkpoint it also restores the optimizer's
// state, the number of epochs done (Sequential::epochs_done) and recur's random generator,
// so that fit(..., FitOptions().initial_epoch(m.epochs_done())) continues the interrupted run
// exactly. Damaged files and files whose tensors disagree with their architecture give a
// recur::Error.
Sequential load_model(const std::string& path);

}  // namespace recur
