#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <recur/recur.hpp>

namespace {

// A file in the system's temporary directory, removed at the end of the test.
struct TempFile {
    std::filesystem::path path;
    explicit TempFile(const std::string& name, const std::string& text)
        : path(std::filesystem::temp_directory_path() / ("recur_test_csv_" + name)) {
        std::ofstream(path, std::ios::binary) << text;
    }
    ~TempFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("read_csv reads a header and numeric columns from a file") {
    const TempFile file("plain.csv", "date,price,volume\n2024-01-01,1.5,10\n2024-01-02,-2.25,1e3\n2024-01-03,+3,0\n");
    const recur::CsvTable table = recur::read_csv(file.path.string());
    CHECK(table.path() == file.path.string());
    CHECK(table.rows() == 3);
    CHECK(table.columns() == std::vector<std::string>{"date", "price", "volume"});
    CHECK(table.column("price") == std::vector<float>{1.5f, -2.25f, 3.0f});
    CHECK(table.column("volume") == std::vector<float>{10.0f, 1000.0f, 0.0f});
}

TEST_CASE("parse_csv: quotes, CRLF, blank lines, spaces, a byte-order mark, no final line end") {
    const recur::CsvTable table = recur::parse_csv(
        "\xEF\xBB\xBF"
        "name, \"value, in units\" ,\"say \"\"hi\"\"\"\r\n"
        "\r\n"
        "\"a,b\", \"4.5\" ,x\r\n"
        "c , 6,\"two\r\nlines\"\r\n"
        "d,7,\"\"",
        "quotes.csv");
    CHECK(table.columns() == std::vector<std::string>{"name", "value, in units", "say \"hi\""});
    CHECK(table.rows() == 3);
    CHECK(table.column("value, in units") == std::vector<float>{4.5f, 6.0f, 7.0f});
    CHECK_THROWS_WITH_AS(table.column("name"),
                         "CsvTable::column: 'quotes.csv' line 3, column 'name': expected a finite number, found 'a,b'",
                         recur::Error);
    // A quoted field over two lines moves the line count on: the last row is on line 4.
    CHECK_THROWS_WITH_AS(recur::parse_csv("a,b\n1,\"x\ny\"\nq,4\n").column("a"), doctest::Contains("line 4, column 'a'"),
                         recur::Error);
}

TEST_CASE("parse_csv: a header alone is a table of no rows") {
    const recur::CsvTable table = recur::parse_csv("a,b\n");
    CHECK(table.rows() == 0);
    CHECK(table.columns().size() == 2);
    CHECK(table.column("b").empty());
}

TEST_CASE("CsvTable::column names the file, the missing column and the available ones") {
    const recur::CsvTable table = recur::parse_csv("a,b\n1,2\n", "data.csv");
    CHECK_THROWS_WITH_AS(table.column("c"), "CsvTable::column: 'data.csv' has no column 'c'; its columns are 'a', 'b'",
                         recur::Error);
}

TEST_CASE("CsvTable::column rejects cells that are not finite numbers, naming line and column") {
    const recur::CsvTable table = recur::parse_csv("x,y\n1,2\n3,n/a\n4,\n5,nan\n6,2x\n", "bad.csv");
    CHECK(table.column("x") == std::vector<float>{1, 3, 4, 5, 6});
    CHECK_THROWS_WITH_AS(table.column("y"), "CsvTable::column: 'bad.csv' line 3, column 'y': expected a finite number, found 'n/a'",
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("y\n4\n\"\"\n").column("y"), doctest::Contains("line 3, column 'y': expected a finite number, found an empty cell"),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("y\nnan\n").column("y"), doctest::Contains("found 'nan'"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("y\n1e99\n").column("y"), doctest::Contains("found '1e99'"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("y\n2x\n").column("y"), doctest::Contains("found '2x'"), recur::Error);
}

TEST_CASE("read_csv: clear errors for missing, empty and malformed files") {
    CHECK_THROWS_WITH_AS(recur::read_csv("/nonexistent/recur.csv"),
                         "read_csv: '/nonexistent/recur.csv' cannot be opened: No such file or directory", recur::Error);
    CHECK_THROWS_WITH_AS(recur::read_csv(std::filesystem::temp_directory_path().string()),
                         doctest::Contains("is a directory; expected a CSV file"), recur::Error);
    const TempFile empty("empty.csv", "");
    CHECK_THROWS_WITH_AS(recur::read_csv(empty.path.string()),
                         ("read_csv: '" + empty.path.string() + "' is empty: expected a header row of column names, found no lines").c_str(),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("\r\n\n", "blank.csv"), doctest::Contains("'blank.csv' is empty"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("a,b\n1,2\n3\n", "ragged.csv"),
                         "read_csv: 'ragged.csv' line 3: expected 2 fields (as in the header), found 1", recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("a,b\r\n1,2,3\r\n", "ragged.csv"),
                         doctest::Contains("line 2: expected 2 fields (as in the header), found 3"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("a\n1\n\"open\n2\n", "open.csv"),
                         "read_csv: 'open.csv' line 3: a quoted field is not closed; expected a closing '\"' before the end of the file",
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("a,b\n\"1\"x,2\n", "after.csv"),
                         doctest::Contains("line 2: expected ',' or a line end after a quoted field, found 'x'"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::parse_csv("a,b,a\n", "dup.csv"), doctest::Contains("names column 'a' twice"), recur::Error);
}
