// What a save may replace: a regular file (keeping its permissions) or nothing; a symbolic
// link is followed to its file; a directory, a device or a dangling link is refused. Saves
// of one path from many threads at once all succeed, each through a temporary of its own.
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "hostile/hostile.hpp"

using recur::Error;
using recur::Sequential;
using recur::Tensor;
using recur::testing::read_file;
using recur::testing::ScratchDir;
namespace fs = std::filesystem;

namespace {
mode_t mode_of(const std::string& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return info.st_mode & 07777;
}
}  // namespace

TEST_CASE("save follows a symbolic link to its file and keeps the link") {
    ScratchDir dir;
    const std::string target = dir / "target.safetensors", link = dir / "link.safetensors";
    recur::manual_seed(1);
    Sequential first = recur::testing::small_model(), second = recur::testing::small_model();
    first.save(target);
    fs::create_symlink(target, link);
    second.save(link);
    CHECK(fs::is_symlink(link));
    const Tensor x({2, 5, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    const Tensor expected = second.predict(x), loaded = recur::load_model(target).predict(x);
    CHECK(std::equal(expected.begin(), expected.end(), loaded.begin()));

    fs::create_symlink(dir / "missing.safetensors", dir / "dangling.safetensors");
    CHECK_THROWS_WITH_AS(second.save(dir / "dangling.safetensors"),
                         doctest::Contains("is a symbolic link to a missing file"), Error);
    CHECK_FALSE(fs::exists(dir / "missing.safetensors"));
}

TEST_CASE("save keeps an existing file's permissions and gives a new one the usual ones") {
    ScratchDir dir;
    const std::string path = dir / "private.safetensors";
    Sequential model = recur::testing::small_model();
    model.save(path);
    const mode_t mask = ::umask(0);
    ::umask(mask);
    CHECK(mode_of(path) == (0666 & ~mask));
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    model.save(path);
    CHECK(mode_of(path) == 0600);
    recur::write_file(path, "text");
    CHECK(mode_of(path) == 0600);
    CHECK(read_file(path) == "text");
}

TEST_CASE("save refuses directories and devices, and leaves them as they were") {
    ScratchDir dir;
    Sequential model = recur::testing::small_model();
    CHECK_THROWS_WITH_AS(model.save(dir.path().string()),
                         ("Sequential::save: '" + dir.path().string() + "' is a directory; save replaces only a regular file").c_str(),
                         Error);
    CHECK_THROWS_WITH_AS(model.save("/dev/null"),
                         "Sequential::save: '/dev/null' is a character device; save replaces only a regular file", Error);
    struct stat info {};
    REQUIRE(::stat("/dev/null", &info) == 0);
    CHECK(S_ISCHR(info.st_mode));
    CHECK_THROWS_WITH_AS(recur::write_file("/dev/null", "x"), doctest::Contains("write_file: '/dev/null' is a character device"),
                         Error);
    CHECK_THROWS_WITH_AS(model.save(""), "Sequential::save: expected a file path, got an empty one", Error);
    CHECK_THROWS_WITH_AS(model.save(dir / "no/such/dir/m.safetensors"),
                         doctest::Contains("/no/such/dir/m.safetensors': its directory '"), Error);
    CHECK_THROWS_WITH_AS(model.save(std::string("m\0.safetensors", 14)),
                         "Sequential::save: 'm\\x00.safetensors': a path cannot hold a NUL byte", Error);
    if (::geteuid() != 0) {  // root may write anywhere
        const std::string locked = dir / "locked";
        fs::create_directory(locked);
        fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
        CHECK_THROWS_WITH_AS(model.save(locked + "/m.safetensors"), doctest::Contains("' is not writable"), Error);
        fs::permissions(locked, fs::perms::owner_all);
    }
}

TEST_CASE("saves of one path from many threads at once all succeed and leave one whole file") {
    ScratchDir dir;
    const std::string path = dir / "shared.safetensors";
    Sequential model = recur::testing::small_model();
    std::vector<std::thread> savers;
    std::atomic<int> failures{0};
    for (int i = 0; i < 8; ++i)
        savers.emplace_back([&] {
            try {
                for (int k = 0; k < 5; ++k) model.save(path);
            } catch (const Error&) {
                ++failures;
            }
        });
    for (auto& saver : savers) saver.join();
    CHECK(failures == 0);
    const Tensor x({1, 5, 1});
    const Tensor a = model.predict(x), b = recur::load_model(path).predict(x);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++entries;
    CHECK(entries == 1);  // no temporary left behind
}

TEST_CASE("a custom loss or optimizer that a model file cannot record makes save say so") {
    struct Squared : recur::Loss {  // a loss of the caller's own, under a built-in name
        const char* name() const override { return "mean_squared_error"; }
        std::unique_ptr<recur::Loss> clone() const override { return std::make_unique<Squared>(*this); }
        float compute(const float* p, const float* y, float* g, std::size_t rows, std::size_t n) const override {
            return recur::MSE().compute(p, y, g, rows, n);
        }
    };
    ScratchDir dir;
    Sequential model = recur::testing::small_model();
    model.compile(recur::Adam(), Squared());
    CHECK_THROWS_WITH_AS(model.save(dir / "m.safetensors"),
                         "Sequential::save: the loss \"mean_squared_error\" is a class of its own, which a model file cannot "
                         "record; compile with one of recur's losses to save",
                         Error);
    CHECK_FALSE(fs::exists(dir / "m.safetensors"));
    model.compile(recur::Adam(), recur::MSE());
    CHECK_NOTHROW(model.save(dir / "m.safetensors"));
    CHECK(dynamic_cast<const recur::MSE*>(&recur::load_model(dir / "m.safetensors").loss()) != nullptr);
}

TEST_CASE("save: a long file name, a symbolic link loop, set-user-ID permissions") {
    ScratchDir dir;
    Sequential model = recur::testing::small_model();
    const std::string long_name = dir / (std::string(240, 'm') + ".safetensors");  // 252 bytes: a legal name
    CHECK_NOTHROW(model.save(long_name));
    CHECK(recur::load_model(long_name).count_params() == model.count_params());
    fs::create_symlink(dir / "loop_b", dir / "loop_a");
    fs::create_symlink(dir / "loop_a", dir / "loop_b");
    CHECK_THROWS_WITH_AS(model.save(dir / "loop_a"), doctest::Contains("is a symbolic link to a missing file (Too many levels of symbolic links)"),
                         Error);
    const std::string special = dir / "special.safetensors";
    model.save(special);
    REQUIRE(::chmod(special.c_str(), 04750) == 0);
    model.save(special);
    CHECK(mode_of(special) == 04750);
}
