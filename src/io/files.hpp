#pragma once
// Files as recur writes and reads them: writes are atomic and replace only what a save may
// replace; reads refuse what is not a regular file (a FIFO would block, /dev/zero never end).
#include <cstddef>
#include <functional>
#include <string>

namespace recur::detail {

// Writes `path` through a temporary file of a unique name beside it: `contents(fd)` writes
// the bytes (returning false on failure), then the file is flushed to disk and renamed over
// the target. The target must be a regular file or missing; a symbolic link is followed to
// the regular file it names, and an existing file keeps its permissions (and, where the
// caller may set it, its owner). On any failure the target is untouched and a recur::Error
// names `call`.
void write_file(const std::string& path, const std::function<bool(int fd)>& contents, const std::string& call);

// Writes all `size` bytes to fd, retrying short writes; false on an error.
bool write_all(int fd, const void* data, std::size_t size);

// Checks that `path` names a regular file (after symbolic links) before it is opened;
// `what` says what was expected in the message ("a model file", "a CSV file").
void check_readable_file(const std::string& path, const std::string& call, const char* what);

}  // namespace recur::detail
