#pragma once
// The files `recur` writes and reads beside its models.
#include <string>
#include <string_view>

#include <recur/data.hpp>

namespace recur_cli {

// Writes through a temporary file beside `path`, flushed, then renamed over it: a reader
// (or a run interrupted half-way) never sees half a file.
void write_atomically(const std::string& path, std::string_view text);

// The scaler a model was trained with. Sequential::save has no room for caller metadata,
// so it lives in a JSON sidecar, `<model>.json`.
std::string scaler_path(const std::string& model_path);
void write_scaler(const std::string& model_path, const recur::MinMaxScaler& scaler, const std::string& column);
recur::MinMaxScaler read_scaler(const std::string& model_path);

// A float in the fewest digits that read back as the same float.
std::string format_float(float value);

}  // namespace recur_cli
