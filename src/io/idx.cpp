// IDX files (the MNIST format), plain or gzip-compressed: zlib's gzread reads both.
#include <recur/data.hpp>
#include <recur/error.hpp>

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

namespace recur {

namespace {

namespace fs = std::filesystem;

struct GzClose {
    void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzClose>;

std::string hex32(std::uint32_t value) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(value));
    return buf;
}

std::uint32_t big_endian(const unsigned char* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// Reads up to n bytes; fewer only where the data ends (or a gzip stream is cut short).
std::size_t read_bytes(gzFile file, unsigned char* out, std::size_t n, const std::string& where) {
    std::size_t done = 0;
    while (done < n) {
        const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 20));
        const int got = gzread(file, out + done, chunk);
        if (got < 0) {
            int code = Z_OK;
            const char* message = gzerror(file, &code);
            throw Error(where + ": cannot read: " + (code == Z_ERRNO ? std::strerror(errno) : message));
        }
        if (got == 0) break;
        done += static_cast<std::size_t>(got);
    }
    return done;
}

}  // namespace

Tensor read_idx(const std::string& path) {
    const std::string where = "read_idx: '" + path + "'";
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw Error(where + ": expected an IDX file, found " + (fs::exists(path, ec) ? "something else" : "no such file"));
    GzFile file(gzopen(path.c_str(), "rb"));
    if (!file) throw Error(where + ": cannot open: " + std::strerror(errno));
    gzbuffer(file.get(), 1u << 18);

    unsigned char header[4 * (2 + Shape::kMaxRank)];
    const std::size_t magic_bytes = read_bytes(file.get(), header, 4, where);
    const std::uint32_t magic = magic_bytes == 4 ? big_endian(header) : 0;
    const std::size_t rank = magic & 0xFF;
    if (magic_bytes < 4 || (magic >> 8) != 0x08 || rank == 0 || rank > Shape::kMaxRank)
        throw Error(where + ": expected the magic number of an IDX file of unsigned bytes, 0x000008NN with NN from 1 to " +
                    std::to_string(Shape::kMaxRank) + " dimensions (0x00000803 for images, 0x00000801 for labels), found " +
                    (magic_bytes < 4 ? std::to_string(magic_bytes) + " bytes" : hex32(magic)));

    const std::size_t got = read_bytes(file.get(), header + 4, 4 * rank, where);
    if (got < 4 * rank)
        throw Error(where + ": expected " + std::to_string(rank) + " sizes (" + std::to_string(4 * rank) +
                    " bytes) after the magic number, found " + std::to_string(got) + " bytes");
    std::vector<std::size_t> dims(rank);
    std::size_t count = 1;
    for (std::size_t i = 0; i < rank; ++i) {
        dims[i] = big_endian(header + 4 * (i + 1));
        if (dims[i] != 0 && count > std::numeric_limits<std::size_t>::max() / dims[i])
            throw Error(where + ": the sizes " + Shape(dims).str() + " describe more bytes than a size_t can count");
        count *= dims[i];
    }
    const Shape shape(dims);
    const std::string expected = "the " + std::to_string(count) + " bytes of data its sizes " + shape.str() + " describe";

    // The sizes come from the file and may be wrong: check them against the bytes actually
    // there before allocating, so that a damaged header cannot ask for terabytes.
    const std::size_t header_size = 4 * (rank + 1);
    const bool plain = gzdirect(file.get()) == 1;
    if (plain) {
        const std::uintmax_t data_size = fs::file_size(path, ec) - header_size;
        if (!ec && data_size != count)
            throw Error(where + ": expected " + expected + " after its " + std::to_string(header_size) +
                        "-byte header, found " + std::to_string(data_size) + " bytes");
    }
    // A gzip stream's length is known only at its end: read it in pieces, so that memory
    // grows with the data present, and stop where it stops.
    std::vector<unsigned char> bytes;
    while (bytes.size() < count) {
        const std::size_t old = bytes.size(), want = std::min<std::size_t>(count - old, 1u << 22);
        bytes.resize(old + want);
        const std::size_t read = read_bytes(file.get(), bytes.data() + old, want, where);
        if (read < want)
            throw Error(where + ": expected " + expected + ", found " + (plain ? "" : "a gzip stream that ends after ") +
                        std::to_string(old + read) + " bytes");
    }
    unsigned char extra;
    if (read_bytes(file.get(), &extra, 1, where) != 0)
        throw Error(where + ": expected " + expected + ", found more data after them");

    Tensor out(shape);
    std::copy(bytes.begin(), bytes.end(), out.data());
    return out;
}

TrainTestData load_fashion_mnist(const std::string& dir) {
    // The Debian package ships the files gzipped; a downloaded copy may be gunzipped.
    const auto find = [&](const std::string& name) {
        for (const fs::path& p : {fs::path(dir) / (name + ".gz"), fs::path(dir) / name})
            if (fs::exists(p)) return p.string();
        throw Error("load_fashion_mnist: expected '" + (fs::path(dir) / name).string() +
                    ".gz' (or without .gz), found no such file; install Debian's dataset-fashion-mnist "
                    "(apt-get install dataset-fashion-mnist), which puts the files in /usr/share/datasets/fashion-mnist/, "
                    "or pass the directory that holds them");
    };
    const auto load = [&](const std::string& prefix, Tensor& x, Tensor& y) {
        const std::string images = find(prefix + "-images-idx3-ubyte"), labels = find(prefix + "-labels-idx1-ubyte");
        x = read_idx(images);
        y = read_idx(labels);
        if (x.rank() != 3 || x.shape()[1] != 28 || x.shape()[2] != 28)
            throw Error("load_fashion_mnist: '" + images + "': expected images of shape (N, 28, 28), found " +
                        x.shape().str());
        if (y.shape() != Shape{x.shape()[0]})
            throw Error("load_fashion_mnist: '" + labels + "': expected one label per image, shape " +
                        Shape{x.shape()[0]}.str() + ", found " + y.shape().str());
    };
    TrainTestData data;
    load("train", data.x_train, data.y_train);
    load("t10k", data.x_test, data.y_test);
    return data;
}

}  // namespace recur
