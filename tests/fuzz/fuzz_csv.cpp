// parse_csv and column lookups on arbitrary text.
#include <recur/recur.hpp>

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const recur::CsvTable table = recur::parse_csv(std::string_view(reinterpret_cast<const char*>(data), size));
        for (const std::string& name : table.columns()) {
            try {
                table.column(name);
            } catch (const recur::Error&) {
            }
        }
    } catch (const recur::Error&) {
    }
    return 0;
}
