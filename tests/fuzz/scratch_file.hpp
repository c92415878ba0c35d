#pragma once
// The readers take paths: each input is written to a file of this process's own first, in
// memory (/dev/shm) where there is one, so that a save's fsync costs nothing.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

inline std::string scratch_file(const char* name, const std::uint8_t* data, std::size_t size) {
    const char* dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    const std::string path = std::string(dir) + "/recur_fuzz_" + std::to_string(::getpid()) + "_" + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (size > 0) std::fwrite(data, 1, size, f);
    std::fclose(f);
    return path;
}
