#pragma once
// The readers take paths: each input is written to a file of this process's own first.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

inline const std::string& scratch_file(const char* name, const std::uint8_t* data, std::size_t size) {
    static const std::string path = "/tmp/recur_fuzz_" + std::to_string(::getpid()) + "_" + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    return path;
}
