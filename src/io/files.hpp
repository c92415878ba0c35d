#pragma once
// Files as recur writes and reads them: writes are atomic and replace only what a save may
// replace; reads refuse what is not a regular file (a FIFO would block, /dev/zero never end).
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace recur::detail {

// What a write to a path would replace or create, as write_file checks it: symbolic links
// followed to a regular file, or a missing file in a writable directory; anything else is a
// recur::Error naming `call`. fit checks its checkpoint path so before training.
struct WriteTarget {
    std::filesystem::path path;  // the file itself, links resolved
    bool exists;
    struct stat existing;        // its owner and permissions, when it exists
};
WriteTarget writable_target(const std::string& path, const std::string& call);

// Writes `path` through a temporary file of a unique name beside it: `contents(fd)` writes
// the bytes (returning false on failure), then the file is flushed to disk and renamed over
// the target (so a hard link to the old file keeps the old contents). The target is checked
// by writable_target; an existing file keeps its permissions (and, where the caller may set
// it, its owner). On any failure the target is untouched and a recur::Error names `call`.
void write_file(const std::string& path, const std::function<bool(int fd)>& contents, const std::string& call);

// Writes all `size` bytes to fd, retrying short writes; false on an error.
bool write_all(int fd, const void* data, std::size_t size);

// Checks that `path` names a regular file (after symbolic links) before it is opened, and
// returns its size; `what` says what was expected in the message ("a CSV file").
std::uint64_t check_readable_file(const std::string& path, const std::string& call, const char* what);

}  // namespace recur::detail
