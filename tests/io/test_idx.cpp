#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <recur/recur.hpp>

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

// An IDX file's bytes: the magic number and the sizes big-endian, then the data.
Bytes idx(std::uint32_t magic, const std::vector<std::uint32_t>& dims, const Bytes& data) {
    Bytes out;
    const auto put = [&](std::uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(v >> shift));
    };
    put(magic);
    for (std::uint32_t d : dims) put(d);
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

Bytes iota_bytes(std::size_t n) {
    Bytes out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i * 7 % 256);
    return out;
}

// A scratch directory, removed with everything in it at the end of the test. Named by the
// process: ctest runs each test case as its own process, several at once.
struct TempDir {
    fs::path path = fs::temp_directory_path() / ("recur_test_idx_" + std::to_string(getpid()));
    TempDir() {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }

    std::string plain(const std::string& name, const Bytes& bytes) const {
        const fs::path p = path / name;
        std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                 static_cast<std::streamsize>(bytes.size()));
        return p.string();
    }
    std::string gzipped(const std::string& name, const Bytes& bytes) const {
        const fs::path p = path / name;
        gzFile file = gzopen(p.string().c_str(), "wb");
        REQUIRE(file != nullptr);
        REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
        REQUIRE(gzclose(file) == Z_OK);
        return p.string();
    }
};

void check_values(const recur::Tensor& t, const Bytes& data) {
    CHECK(std::vector<float>(t.begin(), t.end()) == std::vector<float>(data.begin(), data.end()));
}

}  // namespace

TEST_CASE("read_idx reads images and labels, plain and gzipped, as floats 0..255 in the file's shape") {
    const TempDir dir;
    const Bytes pixels = iota_bytes(3 * 28 * 28), labels{0, 9, 255};
    for (const bool gz : {false, true}) {
        CAPTURE(gz);
        const auto write = [&](const std::string& name, const Bytes& bytes) {
            return gz ? dir.gzipped(name + ".gz", bytes) : dir.plain(name, bytes);
        };
        const recur::Tensor x = recur::read_idx(write("images", idx(0x803, {3, 28, 28}, pixels)));
        CHECK(x.shape() == recur::Shape{3, 28, 28});
        check_values(x, pixels);
        CHECK(x(1, 2, 3) == static_cast<float>(pixels[28 * 28 + 2 * 28 + 3]));
        const recur::Tensor y = recur::read_idx(write("labels", idx(0x801, {3}, labels)));
        CHECK(y.shape() == recur::Shape{3});
        check_values(y, labels);
    }
}

TEST_CASE("read_idx: any rank of unsigned bytes, and sizes of zero") {
    const TempDir dir;
    const Bytes data = iota_bytes(2 * 3 * 4 * 5);
    const recur::Tensor t = recur::read_idx(dir.gzipped("4d.gz", idx(0x804, {2, 3, 4, 5}, data)));
    CHECK(t.shape() == recur::Shape{2, 3, 4, 5});
    check_values(t, data);
    CHECK(recur::read_idx(dir.plain("empty", idx(0x803, {0, 28, 28}, {}))).shape() == recur::Shape{0, 28, 28});
}

TEST_CASE("read_idx: a missing file, or a directory") {
    const TempDir dir;
    const std::string missing = (dir.path / "nope.gz").string();
    CHECK_THROWS_WITH_AS(recur::read_idx(missing), ("read_idx: '" + missing + "': expected an IDX file, found no such file").c_str(),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.path.string()), doctest::Contains("expected an IDX file, found something else"),
                         recur::Error);
}

TEST_CASE("read_idx: a wrong magic number names what was expected and what was found") {
    const TempDir dir;
    // Written little-endian by mistake.
    const std::string le = dir.plain("le", {0x03, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 42});
    CHECK_THROWS_WITH_AS(recur::read_idx(le),
                         ("read_idx: '" + le + "': expected the magic number of an IDX file of unsigned bytes, 0x000008NN "
                          "with NN from 1 to 8 dimensions (0x00000803 for images, 0x00000801 for labels), found 0x03080000")
                             .c_str(),
                         recur::Error);
    // Floats (type 0x0D) are IDX too, but not what this reads.
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.gzipped("f.gz", idx(0xD01, {1}, {0, 0, 0, 0}))),
                         doctest::Contains("found 0x00000D01"),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.plain("rank0", idx(0x800, {}, {1}))), doctest::Contains("found 0x00000800"),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.plain("rank9", idx(0x809, {1, 1, 1, 1, 1, 1, 1, 1, 1}, {1}))),
                         doctest::Contains("found 0x00000809"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.plain("short", {0, 0})), doctest::Contains("found 2 bytes"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.plain("empty", {})), doctest::Contains("found 0 bytes"), recur::Error);
}

TEST_CASE("read_idx: a header cut short") {
    const TempDir dir;
    Bytes bytes = idx(0x803, {10, 28, 28}, {});
    bytes.resize(10);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.gzipped("cut.gz", bytes)),
                         doctest::Contains("expected 3 sizes (12 bytes) after the magic number, found 6 bytes"), recur::Error);
}

TEST_CASE("read_idx: sizes that overflow, or that exceed the data, fail before anything is allocated") {
    const TempDir dir;
    // 2^32 - 1 cubed does not fit in 64 bits.
    const Bytes overflow = idx(0x803, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, iota_bytes(16));
    for (const std::string& path : {dir.plain("overflow", overflow), dir.gzipped("overflow.gz", overflow)})
        CHECK_THROWS_WITH_AS(recur::read_idx(path),
                             doctest::Contains("the sizes (4294967295, 4294967295, 4294967295) describe more bytes than a "
                                               "size_t can count"),
                             recur::Error);
    // 4 GiB x 4 GiB bytes fits a size_t but no memory: the reader must trust the data, not the sizes.
    const Bytes huge = idx(0x803, {0xFFFFFFFF, 0xFFFFFFFF, 1}, iota_bytes(100));
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.plain("huge", huge)),
                         doctest::Contains("expected the 18446744065119617025 bytes of data its sizes (4294967295, "
                                           "4294967295, 1) describe after its 16-byte header, found 100 bytes"),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.gzipped("huge.gz", huge)),
                         doctest::Contains("describe, found a gzip stream that ends after 100 bytes"), recur::Error);
}

TEST_CASE("read_idx: data cut short, or longer than the sizes say") {
    const TempDir dir;
    const Bytes pixels = iota_bytes(5 * 28 * 28);
    Bytes cut = idx(0x803, {5, 28, 28}, pixels);
    cut.resize(cut.size() - 100);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.plain("cut", cut)),
                         doctest::Contains("expected the 3920 bytes of data its sizes (5, 28, 28) describe after its "
                                           "16-byte header, found 3820 bytes"),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.gzipped("cut.gz", cut)),
                         doctest::Contains("found a gzip stream that ends after 3820 bytes"), recur::Error);

    // A gzip file itself truncated (a download cut off): its stream ends early.
    const std::string whole = dir.gzipped("whole.gz", idx(0x803, {5, 28, 28}, pixels));
    fs::resize_file(whole, fs::file_size(whole) / 2);
    CHECK_THROWS_WITH_AS(recur::read_idx(whole), doctest::Contains("describe, found a gzip stream that ends after"),
                         recur::Error);

    Bytes longer = idx(0x801, {3}, {1, 2, 3, 4});
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.plain("long", longer)),
                         doctest::Contains("expected the 3 bytes of data its sizes (3,) describe after its 8-byte header, "
                                           "found 4 bytes"),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::read_idx(dir.gzipped("long.gz", longer)),
                         doctest::Contains("expected the 3 bytes of data its sizes (3,) describe, found more data after them"),
                         recur::Error);
}

TEST_CASE("load_fashion_mnist reads the four files, gzipped or not, into train and test tensors") {
    const TempDir dir;
    const Bytes train_x = iota_bytes(4 * 28 * 28), test_x = iota_bytes(2 * 28 * 28);
    dir.gzipped("train-images-idx3-ubyte.gz", idx(0x803, {4, 28, 28}, train_x));
    dir.gzipped("train-labels-idx1-ubyte.gz", idx(0x801, {4}, {9, 0, 3, 1}));
    dir.plain("t10k-images-idx3-ubyte", idx(0x803, {2, 28, 28}, test_x));
    dir.plain("t10k-labels-idx1-ubyte", idx(0x801, {2}, {5, 8}));
    const auto [x_train, y_train, x_test, y_test] = recur::load_fashion_mnist(dir.path.string());
    CHECK(x_train.shape() == recur::Shape{4, 28, 28});
    check_values(x_train, train_x);
    check_values(y_train, {9, 0, 3, 1});
    CHECK(x_test.shape() == recur::Shape{2, 28, 28});
    check_values(x_test, test_x);
    check_values(y_test, {5, 8});
    CHECK(std::string(recur::fashion_mnist_classes[9]) == "Ankle boot");
}

TEST_CASE("load_fashion_mnist: missing files name the Debian package; wrong shapes name the file") {
    const TempDir dir;
    CHECK_THROWS_WITH_AS(recur::load_fashion_mnist(dir.path.string()),
                         ("load_fashion_mnist: expected '" + (dir.path / "train-images-idx3-ubyte").string() +
                          ".gz' (or without .gz), found no such file; install Debian's dataset-fashion-mnist "
                          "(apt-get install dataset-fashion-mnist), which puts the files in "
                          "/usr/share/datasets/fashion-mnist/, or pass the directory that holds them")
                             .c_str(),
                         recur::Error);

    dir.plain("train-images-idx3-ubyte", idx(0x803, {2, 28, 28}, iota_bytes(2 * 28 * 28)));
    dir.plain("train-labels-idx1-ubyte", idx(0x801, {3}, {1, 2, 3}));
    CHECK_THROWS_WITH_AS(recur::load_fashion_mnist(dir.path.string()),
                         doctest::Contains("train-labels-idx1-ubyte': expected one label per image, shape (2,), found (3,)"),
                         recur::Error);

    dir.plain("train-images-idx3-ubyte", idx(0x803, {1, 28, 27}, iota_bytes(28 * 27)));
    CHECK_THROWS_WITH_AS(recur::load_fashion_mnist(dir.path.string()),
                         doctest::Contains("train-images-idx3-ubyte': expected images of shape (N, 28, 28), found (1, 28, 27)"),
                         recur::Error);
}
