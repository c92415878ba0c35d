// Runs the built `recur` binary as a user would, in a scratch directory of the build tree.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <recur/recur.hpp>

namespace fs = std::filesystem;

namespace {

struct Run {
    int status = -1;  // the exit code; -1 when killed by a signal (a crash)
    std::string out, err;
};

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::size_t count_lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

// A smooth series (two sines) of 400 values, as written to series.csv (6 digits).
std::vector<double> series_values() {
    std::vector<double> values;
    for (int i = 0; i < 400; ++i) {
        std::ostringstream text;
        text << 10 + 3 * std::sin(2 * M_PI * i / 40) + std::sin(2 * M_PI * i / 13);
        values.push_back(std::stod(text.str()));
    }
    return values;
}

// A fresh directory holding series.csv: the series beside a quoted text column, as real
// exports have, with CRLF line ends.
const fs::path& work_dir() {
    static const fs::path dir = [] {
        const fs::path d = RECUR_CLI_WORK;
        fs::remove_all(d);
        fs::create_directories(d);
        std::ofstream csv(d / "series.csv", std::ios::binary);
        csv << "t,\"note\",value\r\n";
        const std::vector<double> values = series_values();
        for (std::size_t i = 0; i < values.size(); ++i) csv << i << ",\"day " << i << ", ok\"," << values[i] << "\r\n";
        return d;
    }();
    return dir;
}

// Runs `recur args` in the work directory, with `environment` (VAR=value ...) set for it.
Run run_cli(const std::string& args, const std::string& environment = "") {
    const fs::path& dir = work_dir();
    const std::string command =
        "cd '" + dir.string() + "' && " + environment + " '" RECUR_CLI "' " + args + " >stdout.txt 2>stderr.txt";
    const int raw = std::system(command.c_str());
    Run run;
    run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    run.out = slurp(dir / "stdout.txt");
    run.err = slurp(dir / "stderr.txt");
    return run;
}

// The number printed after `label` on its line of train's report.
double reported(const std::string& out, const std::string& label) {
    const std::size_t at = out.find("\n  " + label + " ");
    REQUIRE_MESSAGE(at != std::string::npos, "no '" << label << "' line in:\n" << out);
    return std::stod(out.substr(at + 3 + label.size()));
}

const Run& trained() {
    static const Run run = run_cli(
        "train --csv series.csv --column value --window 20 --units 16 --epochs 40 --seed 1 "
        "--out model.safetensors --history history.csv --plot curves.svg");
    return run;
}

}  // namespace

TEST_CASE("recur train fits a smooth series better than persistence and writes its files") {
    const Run& run = trained();
    REQUIRE_MESSAGE(run.status == 0, run.err);
    CHECK(run.err.empty());
    CHECK(run.out.find("Epoch 40/40") != std::string::npos);
    CHECK(run.out.find("validation RMSE over 76 windows, in the units of 'value'") != std::string::npos);
    const double model = reported(run.out, "model"), persistence = reported(run.out, "persistence");
    CHECK(model < 0.8 * persistence);
    // 380 windows: the first 304 train, so the validation targets are rows 324..399, and
    // persistence predicts each from the row before.
    const std::vector<double> v = series_values();
    double squares = 0;
    for (std::size_t row = 324; row < 400; ++row) squares += (v[row] - v[row - 1]) * (v[row] - v[row - 1]);
    CHECK(persistence == doctest::Approx(std::sqrt(squares / 76)).epsilon(1e-5));

    const fs::path& dir = work_dir();
    const auto metadata = recur::load_model((dir / "model.safetensors").string()).metadata();
    CHECK(metadata.at("scaler") == "MinMaxScaler");
    CHECK(metadata.at("column") == "value");
    CHECK(!fs::exists(dir / "model.safetensors.json"));  // no sidecar to get out of step

    const std::string history = slurp(dir / "history.csv");
    CHECK(history.starts_with("epoch,loss,val_loss\n1,"));
    CHECK(count_lines(history) == 41);

    const std::string svg = slurp(dir / "curves.svg");
    CHECK(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK(svg.ends_with("</svg>\n"));
    for (const char* text : {">val_loss<", ">predicted<", ">actual<", ">epoch<", "(log scale)", "<polyline"})
        CHECK_MESSAGE(svg.find(text) != std::string::npos, text);

    for (const auto& entry : fs::directory_iterator(dir))  // no temporary file left behind
        CHECK_MESSAGE(entry.path().filename().string().find(".tmp") == std::string::npos, entry.path());
}

TEST_CASE("recur train --cell lstm and --cell gru beat persistence; their models predict and summarise") {
    for (const std::string cell : {"lstm", "gru"}) {
        CAPTURE(cell);
        // Gated cells learn more slowly at Adam's default rate: 0.01 for 40 epochs.
        const Run run = run_cli("train --csv series.csv --column value --window 20 --units 16 --epochs 40 --lr 0.01 "
                                "--seed 1 --cell " + cell + " --out " + cell + ".safetensors");
        REQUIRE_MESSAGE(run.status == 0, run.err);
        CHECK(run.out.find(cell == "lstm" ? "(LSTM)" : "(GRU)") != std::string::npos);  // the summary's layer
        CHECK(reported(run.out, "model") < 0.8 * reported(run.out, "persistence"));
        const recur::Sequential model = recur::load_model((work_dir() / (cell + ".safetensors")).string());
        CHECK(model.layer(0).type_name() == std::string(cell == "lstm" ? "LSTM" : "GRU"));
        const Run predicted = run_cli("predict --model " + cell + ".safetensors --csv series.csv --column value");
        REQUIRE_MESSAGE(predicted.status == 0, predicted.err);
        CHECK(count_lines(predicted.out) == 382);  // the header, rows 20..399 and the value after the series
        const Run summary = run_cli("summary --model " + cell + ".safetensors");
        REQUIRE_MESSAGE(summary.status == 0, summary.err);
        CHECK(summary.out.find(cell == "lstm" ? " 1152 " : " 912 ") != std::string::npos);  // 4(16 + 256 + 16), 3(16 + 256 + 32)
    }
}

TEST_CASE("recur train fits the scaler on the training part only") {
    // A ramp 0..99 in windows of 5: 95 windows, the first 76 train, so training sees 0..80.
    std::ofstream ramp(work_dir() / "ramp.csv");
    ramp << "x\n";
    for (int i = 0; i < 100; ++i) ramp << i << "\n";
    ramp.close();
    const Run run = run_cli("train --csv ramp.csv --column x --window 5 --epochs 1 --out ramp.safetensors");
    REQUIRE_MESSAGE(run.status == 0, run.err);
    CHECK(run.out.find("validation RMSE over 19 windows") != std::string::npos);
    const auto metadata = recur::load_model((work_dir() / "ramp.safetensors").string()).metadata();
    CHECK(metadata.at("scaler_data_max") == "80");
    CHECK(metadata.at("scaler_data_min") == "0");
}

TEST_CASE("recur predict and recur summary read the saved model") {
    REQUIRE(trained().status == 0);
    const Run to_file = run_cli("predict --model model.safetensors --csv series.csv --column value --out predictions.csv");
    REQUIRE_MESSAGE(to_file.status == 0, to_file.err);
    CHECK(to_file.out.starts_with("wrote 381 predictions to predictions.csv"));

    // row,actual,predicted for rows 20..399, then the value after the series, all close to
    // the truth in the column's units (the series spans 6..14).
    std::istringstream csv(slurp(work_dir() / "predictions.csv"));
    std::string line;
    std::getline(csv, line);
    CHECK(line == "row,actual,predicted");
    std::size_t rows = 0;
    double worst = 0;
    std::string last;
    for (; std::getline(csv, line); last = line) {
        const std::size_t a = line.find(','), b = line.find(',', a + 1);
        CHECK(std::stoul(line.substr(0, a)) == 20 + rows);
        if (b > a + 1) worst = std::max(worst, std::abs(std::stod(line.substr(a + 1)) - std::stod(line.substr(b + 1))));
        ++rows;
    }
    CHECK(rows == 381);
    CHECK(last.starts_with("400,,"));
    CHECK(worst < 1.5);

    const Run to_stdout = run_cli("predict --model model.safetensors --csv series.csv --column value");
    CHECK(to_stdout.status == 0);
    CHECK(to_stdout.out == slurp(work_dir() / "predictions.csv"));

    const Run summary = run_cli("summary --model model.safetensors");
    CHECK(summary.status == 0);
    CHECK(summary.out.find("simple_rnn (SimpleRNN)      (None, 16)                288") != std::string::npos);
    CHECK(summary.out.find("Total params: 305") != std::string::npos);
}

TEST_CASE("recur demo and recur bench run") {
    const Run demo = run_cli("demo");
    CHECK(demo.status == 0);
    CHECK(demo.out.find("every prediction within 0.05 of its target") != std::string::npos);
    const Run bench = run_cli("bench");
    CHECK(bench.status == 0);
    CHECK(bench.out.find("train_on_batch") != std::string::npos);
    CHECK(bench.out.find("(32, 28, 28, 128, 10)") != std::string::npos);
}

TEST_CASE("every bad input is one line on stderr and a non-zero exit") {
    const std::string train = "train --csv series.csv --column value ";
    const struct {
        std::string args, message;
    } cases[] = {
        {"train --csv missing.csv --column value --window 5",
         "recur train: read_csv: 'missing.csv' cannot be opened: No such file or directory"},
        {"train --csv series.csv --column price --window 5", "has no column 'price'; its columns are 't', 'note', 'value'"},
        {"train --csv series.csv --column note --window 5",
         "line 2, column 'note': expected a finite number, found 'day 0, ok'"},
        {train + "--window 400", "recur train: --window 400 needs a series longer than the window; column 'value' of "
                                 "'series.csv' has 400 values"},
        {train + "--window 399", "--val-split 0.2 of the 1 windows"},
        {train + "--window 5 --val-split 1", "recur train: --val-split must be in [0, 1), got 1"},
        {train + "--window 5 --val-split -0.5", "--val-split must be in [0, 1), got -0.5"},
        {train + "--window 0", "recur train: --window: expected a whole number from 1 to 18446744073709551615, got 0"},
        {train + "--window 5 --epochs many", "--epochs: expected a whole number from 1 to 18446744073709551615, got many"},
        {train + "--window 5 --epochs 2.5", "--epochs: expected a whole number from 1 to 18446744073709551615, got 2.5"},
        {train + "--window 5 --cell rnn", "recur train: --cell: rnn not in {simple,lstm,gru}"},
        {train + "--window 5 --cell", "recur train: --cell: 1 required TEXT:{simple,lstm,gru} missing"},
        {train + "--window 5 --units -1", "--units: expected a whole number from 1 to 18446744073709551615, got -1"},
        {train + "--window 5 --units 99999999999999999999", "--units: expected a whole number from 1 to 18446744073709551615, got 99999999999999999999"},
        {train + "--window 5 --seed -1", "--seed: expected a whole number from 0 to 18446744073709551615, got -1"},
        {train + "--window 5 --seed 18446744073709551616", "--seed: expected a whole number from 0 to 18446744073709551615, got 18446744073709551616"},
        {train + "--window 5 --lr -1", "--lr: expected a number from 1.2e-38 to 3.4e+38, got -1"},
        {train + "--window 5 --lr inf", "--lr: expected a number from 1.2e-38 to 3.4e+38, got inf"},
        {train + "--window 5 --lr nan", "--lr: expected a number from 1.2e-38 to 3.4e+38, got nan"},
        {train + "--window 5 --lr 1e-50", "--lr: expected a number from 1.2e-38 to 3.4e+38, got 1e-50"},
        {train + "--window 5 --lr 1e300", "--lr: expected a number from 1.2e-38 to 3.4e+38, got 1e300"},
        {"frobnicate", "recur: unknown command 'frobnicate'; expected demo, train, predict, summary or bench"},
        {train, "recur train: --window is required"},
        {train + "--window 5 --colour red", "recur train: The following arguments were not expected: red --colour"},
        {"", "recur: A subcommand is required"},
        {"predict --model nothing.safetensors --csv series.csv --column value", "recur predict: "},
        {"predict --model series.csv --csv series.csv --column value", "recur predict: load_model: 'series.csv'"},
        {"summary --model nothing.safetensors", "recur summary: "},
    };
    for (const auto& c : cases) {
        CAPTURE(c.args);
        const Run run = run_cli(c.args);
        CHECK(run.status > 0);  // not 0, and not a crash
        CHECK(count_lines(run.err) == 1);
        CHECK(run.err.ends_with("\n"));
        CHECK_MESSAGE(run.err.find(c.message) != std::string::npos, run.err);
    }
}

TEST_CASE("recur never overwrites its inputs or one output with another, and checks output directories first") {
    REQUIRE(trained().status == 0);
    const fs::path& dir = work_dir();
    const std::string series_before = slurp(dir / "series.csv"), model_before = slurp(dir / "model.safetensors");
    fs::remove(dir / "alias.csv");
    fs::create_symlink("series.csv", dir / "alias.csv");
    fs::remove(dir / "hardlink.csv");
    fs::create_hard_link(dir / "series.csv", dir / "hardlink.csv");
    fs::create_directories(dir / "sub");
    const std::string train = "train --csv series.csv --column value --window 5 --epochs 1 ";
    const struct {
        std::string args, message;
    } cases[] = {
        {train + "--out series.csv", "recur train: --out 'series.csv' is the same file as --csv 'series.csv'; writing it "
                                     "would destroy the input"},
        {train + "--out ./sub/../series.csv", "--out './sub/../series.csv' is the same file as --csv 'series.csv'"},
        {train + "--out alias.csv", "--out 'alias.csv' is the same file as --csv 'series.csv'"},
        {train + "--out hardlink.csv", "--out 'hardlink.csv' is the same file as --csv 'series.csv'"},
        {train + "--history series.csv", "--history 'series.csv' is the same file as --csv"},
        {train + "--plot series.csv", "--plot 'series.csv' is the same file as --csv"},
        {train + "--out m.safetensors --plot m.safetensors",
         "--plot 'm.safetensors' is the same file as --out 'm.safetensors'; give each output a file of its own"},
        {train + "--out h.csv --history ./h.csv", "--history './h.csv' is the same file as --out 'h.csv'"},
        {train + "--history missing/h.csv", "--history 'missing/h.csv': the directory '"},
        {train + "--out sub", "--out 'sub' exists and is not a regular file; expected a file to write"},
        {"predict --model model.safetensors --csv series.csv --column value --out series.csv",
         "recur predict: --out 'series.csv' is the same file as --csv 'series.csv'"},
        {"predict --model model.safetensors --csv series.csv --column value --out model.safetensors",
         "--out 'model.safetensors' is the same file as --model 'model.safetensors'"},
        {"predict --model model.safetensors --csv series.csv --column t",
         "recur predict: 'model.safetensors' was trained on column 'value', and its scaler fits that column's values; "
         "predicting column 't' with it is likely wrong (pass --any-column to do it anyway)"},
        {"predict --model series.csv --csv series.csv --column value", "recur predict: load_model: 'series.csv'"},
        {train + "--out a.safetensors --plot dangling.svg",
         "--plot 'dangling.svg' is a symbolic link to a missing file; expected a file to write"},
    };
    fs::remove(dir / "dangling.svg");
    fs::create_symlink("a.safetensors", dir / "dangling.svg");  // the model would be written, then replaced by the plot
    for (const auto& c : cases) {
        CAPTURE(c.args);
        const Run run = run_cli(c.args);
        CHECK(run.status == 1);
        CHECK(count_lines(run.err) == 1);
        CHECK_MESSAGE(run.err.find(c.message) != std::string::npos, run.err);
        CHECK(run.out.find("Epoch") == std::string::npos);  // refused before any training
    }
    CHECK_FALSE(fs::exists(dir / "a.safetensors"));
    CHECK(slurp(dir / "series.csv") == series_before);
    CHECK(slurp(dir / "model.safetensors") == model_before);
    CHECK(fs::is_symlink(dir / "alias.csv"));
    CHECK(run_cli("predict --model model.safetensors --csv series.csv --column t --any-column").status == 0);
}

TEST_CASE("a diverged training run saves nothing and exits non-zero") {
    const fs::path& dir = work_dir();
    fs::remove(dir / "diverged.safetensors");
    const Run run = run_cli("train --csv series.csv --column value --window 5 --epochs 5 --lr 1e30 --seed 1 "
                            "--out diverged.safetensors --history diverged.csv");
    CHECK(run.status == 1);
    CHECK(run.err.find("Sequential::fit: ") != std::string::npos);
    CHECK(run.err.find("recur train: training diverged (the loss or an update became NaN or Inf; see above), so nothing "
                       "was saved; try a smaller --lr") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "diverged.safetensors"));
    CHECK_FALSE(fs::exists(dir / "diverged.csv"));
}

TEST_CASE("sizes the machine cannot hold and a bad RECUR_ISA are clear errors, not crashes") {
    // 10^7 units: 10^14 weights, more than any address space holds, so this fails on any machine.
    const Run huge = run_cli("train --csv series.csv --column value --window 5 --units 10000000 --epochs 1");
    CHECK(huge.status == 1);
    CHECK_MESSAGE(huge.err.find("recur train: Sequential::add: the model cannot be built: Tensor: cannot allocate "
                                "100000020000000 floats (3.73e+05 GiB) for shape (100000020000000,): out of memory") !=
                      std::string::npos,
                  huge.err);
    const Run isa = run_cli("bench", "RECUR_ISA=avx1024");
    CHECK(isa.status == 1);
    CHECK_MESSAGE(isa.err.find("RECUR_ISA: expected one of avx512, avx2, sse2 that this CPU supports, got 'avx1024'") !=
                      std::string::npos,
                  isa.err);
}

TEST_CASE("output that cannot be written to the standard output is a failure") {
    REQUIRE(trained().status == 0);
    const std::string command = "cd '" + work_dir().string() + "' && '" RECUR_CLI "' summary --model model.safetensors "
                                ">/dev/full 2>full.txt";
    const int raw = std::system(command.c_str());
    CHECK(WIFEXITED(raw));
    CHECK(WEXITSTATUS(raw) == 1);
    CHECK(slurp(work_dir() / "full.txt") == "recur summary: cannot write to the standard output\n");
}
