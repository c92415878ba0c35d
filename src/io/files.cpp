#include "io/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include <recur/error.hpp>
#include <recur/io.hpp>

#include "text.hpp"

namespace recur::detail {

namespace {

namespace fs = std::filesystem;

std::string kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

// A name no other save in this process or any other uses: the pid and a counter, beside a
// prefix of the target's name (whole, a long name would make it longer than a name may be).
std::string temporary_name(const fs::path& target) {
    static std::atomic<unsigned long> counter{0};
    const std::string prefix = target.filename().string().substr(0, 96);
    return (target.parent_path() / ("." + prefix + ".tmp-" + std::to_string(::getpid()) + "-" +
                                    std::to_string(counter.fetch_add(1))))
        .string();
}

void check_path_text(const std::string& path, const std::string& call) {
    if (path.empty()) throw Error(call + ": expected a file path, got an empty one");
    if (path.find('\0') != std::string::npos)
        throw Error(call + ": '" + printable(path) + "': a path cannot hold a NUL byte");
}

}  // namespace

WriteTarget writable_target(const std::string& path, const std::string& call) {
    check_path_text(path, call);
    const std::string where = call + ": '" + printable(path) + "'";
    WriteTarget target{path, false, {}};
    if (::lstat(path.c_str(), &target.existing) == 0) {
        target.exists = true;
        if (S_ISLNK(target.existing.st_mode)) {
            std::error_code ec;
            target.path = fs::canonical(path, ec);
            if (ec || ::stat(target.path.c_str(), &target.existing) != 0)
                throw Error(where + " is a symbolic link to a missing file (" + ec.message() +
                                    "); a save replaces an existing file, or creates one at a path that is not a link");
        }
        if (!S_ISREG(target.existing.st_mode))
            throw Error(where + " is " + kind_of(target.existing.st_mode) + "; save replaces only a regular file");
    } else if (errno != ENOENT) {
        throw Error(where + ": cannot look at it: " + std::strerror(errno));
    }
    const fs::path dir = target.path.parent_path().empty() ? fs::path(".") : target.path.parent_path();
    struct stat info {};
    if (::stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
        throw Error(where + ": its directory '" + printable(dir.string()) + "' does not exist");
    if (::access(dir.c_str(), W_OK) != 0)
        throw Error(where + ": its directory '" + printable(dir.string()) + "' is not writable");
    return target;
}

void write_file(const std::string& path, const std::function<bool(int fd)>& contents, const std::string& call) {
    const WriteTarget target = writable_target(path, call);
    std::string temporary;
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {  // a leftover of a killed run may hold a name
        temporary = temporary_name(target.path);
        fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    const std::string where = call + ": '" + printable(path) + "'";
    if (fd < 0) throw Error(where + ": cannot create a temporary file beside it: " + std::strerror(errno));
    bool ok = true;
    if (target.exists) {  // the replaced file's owner and permissions, as an editor's save keeps them
        // The owner first: changing it clears the set-user-ID and set-group-ID bits.
        if (::fchown(fd, target.existing.st_uid, target.existing.st_gid) != 0 && errno != EPERM) ok = false;
        ok = ok && ::fchmod(fd, target.existing.st_mode & 07777) == 0;
    }
    ok = ok && contents(fd) && ::fsync(fd) == 0;
    int saved_errno = errno;
    if (::close(fd) != 0 && ok) ok = false, saved_errno = errno;
    if (ok && ::rename(temporary.c_str(), target.path.c_str()) != 0) ok = false, saved_errno = errno;
    if (!ok) {
        ::unlink(temporary.c_str());
        throw Error(where + ": writing failed: " + std::strerror(saved_errno) + "; the previous file is untouched");
    }
    // The rename itself is durable once the directory is flushed too.
    const fs::path dir = target.path.parent_path().empty() ? fs::path(".") : target.path.parent_path();
    if (const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_CLOEXEC); dir_fd >= 0) {
        ::fsync(dir_fd);
        ::close(dir_fd);
    }
}

bool write_all(int fd, const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

std::uint64_t check_readable_file(const std::string& path, const std::string& call, const char* what) {
    check_path_text(path, call);
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        throw Error(call + ": '" + printable(path) + "' cannot be opened: " + std::strerror(errno));
    if (!S_ISREG(info.st_mode))
        throw Error(call + ": '" + printable(path) + "' is " + kind_of(info.st_mode) + "; expected " + what);
    return static_cast<std::uint64_t>(info.st_size);
}

}  // namespace recur::detail

namespace recur {

void write_file(const std::string& path, std::string_view contents) {
    detail::write_file(path, [&](int fd) { return detail::write_all(fd, contents.data(), contents.size()); }, "write_file");
}

}  // namespace recur
