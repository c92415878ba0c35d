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

// A name no other save in this process or any other uses: the pid and a counter.
std::string temporary_name(const fs::path& target) {
    static std::atomic<unsigned long> counter{0};
    return (target.parent_path() / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                                    std::to_string(counter.fetch_add(1))))
        .string();
}

}  // namespace

void write_file(const std::string& path, const std::function<bool(int fd)>& contents, const std::string& call) {
    const std::string where = call + ": '" + path + "'";
    if (path.empty()) throw Error(call + ": expected a file path, got an empty one");
    fs::path target = path;
    struct stat existing {};
    const bool exists = ::lstat(path.c_str(), &existing) == 0;
    if (exists && S_ISLNK(existing.st_mode)) {
        std::error_code ec;
        target = fs::canonical(path, ec);
        if (ec || ::stat(target.c_str(), &existing) != 0)
            throw Error(where + " is a symbolic link to a missing file; save replaces an existing file or "
                                "creates one at a path that is not a link");
    }
    if (exists && !S_ISREG(existing.st_mode))
        throw Error(where + " is " + kind_of(existing.st_mode) + "; save replaces only a regular file");
    if (!exists && errno != ENOENT) throw Error(where + ": cannot look at it: " + std::strerror(errno));

    std::string temporary;
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {  // a leftover of a killed run may hold a name
        temporary = temporary_name(target);
        fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) throw Error(where + ": cannot create a temporary file beside it: " + std::strerror(errno));
    bool ok = true;
    if (exists) {  // the replaced file's permissions and owner, as an editor's save keeps them
        ok = ::fchmod(fd, existing.st_mode & 07777) == 0;
        if (ok && ::fchown(fd, existing.st_uid, existing.st_gid) != 0 && errno != EPERM) ok = false;
    }
    ok = ok && contents(fd) && ::fsync(fd) == 0;
    int saved_errno = errno;
    if (::close(fd) != 0 && ok) ok = false, saved_errno = errno;
    if (ok && ::rename(temporary.c_str(), target.c_str()) != 0) ok = false, saved_errno = errno;
    if (!ok) {
        ::unlink(temporary.c_str());
        throw Error(where + ": writing failed: " + std::strerror(saved_errno) + "; the previous file is untouched");
    }
    // The rename itself is durable once the directory is flushed too.
    if (const int dir = ::open(target.parent_path().empty() ? "." : target.parent_path().c_str(), O_RDONLY | O_CLOEXEC);
        dir >= 0) {
        ::fsync(dir);
        ::close(dir);
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

void check_readable_file(const std::string& path, const std::string& call, const char* what) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0)
        throw Error(call + ": '" + path + "' cannot be opened: " + std::strerror(errno));
    if (!S_ISREG(info.st_mode))
        throw Error(call + ": '" + path + "' is " + kind_of(info.st_mode) + "; expected " + what);
}

}  // namespace recur::detail

namespace recur {

void write_file(const std::string& path, std::string_view contents) {
    detail::write_file(path, [&](int fd) { return detail::write_all(fd, contents.data(), contents.size()); }, "write_file");
}

}  // namespace recur
