#pragma once
// What `recur` keeps beside a model, and the checks it makes on the paths it is given
// before any work starts.
#include <string>
#include <utility>
#include <vector>

#include <recur/data.hpp>
#include <recur/model.hpp>

namespace recur_cli {

// A path given on the command line, with the flag that gave it (for messages).
struct PathArg {
    std::string flag, path;
};

// Refuses, before anything is read or trained: an output that is the same file as an
// input or as another output (after resolving ".", "..", symbolic and hard links), an
// output whose directory is missing or not writable, and an output that exists but is not
// a regular file. Empty paths are skipped.
void check_paths(const std::vector<PathArg>& inputs, const std::vector<PathArg>& outputs);

// The scaler a model was trained with, and the column it was fitted on, stored in the
// model file's metadata: saved and loaded with the model, never out of step with it.
void store_scaler(recur::Sequential& model, const recur::MinMaxScaler& scaler, const std::string& column);
// The scaler and column stored by store_scaler; a model without them is a recur::Error.
std::pair<recur::MinMaxScaler, std::string> stored_scaler(const recur::Sequential& model, const std::string& path);

// A float in the fewest digits that read back as the same float.
std::string format_float(float value);

}  // namespace recur_cli
