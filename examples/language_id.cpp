// recur-language-id: which language is this word? A variable-length classification task from
// Debian's word lists (English, German, French, Spanish, Italian, Portuguese, Dutch): words
// lower-cased and NFC-normalised (utf8proc), those found in more than one list dropped, an
// 80/10/10 split with a fixed seed, then
//   Embedding(characters, 32).mask_zero(true) -> Bidirectional(GRU(64)) -> Dense(7, softmax)
// on the words padded with 0 to the longest, beside a character-trigram naive Bayes baseline
// fitted on the same training words. Prints per-epoch progress, test accuracy and a confusion
// matrix for both, and what the padding costs. Exits 1 unless the network beats the baseline.
//
//   recur-language-id [--words N] [--epochs N] [--units N] [--lr RATE] [--seed N] [--dict DIR]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <utf8proc.h>

#include <recur/recur.hpp>

#include "flags.hpp"

namespace {

struct Language {
    const char* name;
    const char* file;     // in /usr/share/dict
    const char* package;  // Debian's
};
constexpr Language kLanguages[] = {
    {"English", "american-english", "wamerican"}, {"German", "ngerman", "wngerman"},
    {"French", "french", "wfrench"},              {"Spanish", "spanish", "wspanish"},
    {"Italian", "italian", "witalian"},           {"Portuguese", "portuguese", "wportuguese"},
    {"Dutch", "dutch", "wdutch"},
};
constexpr std::size_t kLanguageCount = std::size(kLanguages);
constexpr std::size_t kMaxLength = 32;  // characters; longer words are left out

using Word = std::u32string;  // code points

// The word NFC-normalised and lower-cased, or empty when the line is not valid UTF-8.
Word normalise(const std::string& line) {
    utf8proc_uint8_t* nfc = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(line.c_str()));
    if (!nfc) return {};
    Word word;
    const utf8proc_uint8_t* p = nfc;
    utf8proc_int32_t c = 0;
    for (utf8proc_ssize_t n; *p && (n = utf8proc_iterate(p, -1, &c)) > 0; p += n) word += char32_t(utf8proc_tolower(c));
    std::free(nfc);
    return word;
}

// Every list's words, each word once; words in more than one list are dropped.
std::vector<std::vector<Word>> read_lists(const std::string& dir) {
    std::vector<std::set<Word>> sets(kLanguageCount);
    for (std::size_t l = 0; l < kLanguageCount; ++l) {
        const std::string path = dir + "/" + kLanguages[l].file;
        std::ifstream in(path);
        if (!in) {
            std::cerr << "recur-language-id: cannot read " << path << " (" << kLanguages[l].name
                      << "); install it with: sudo apt-get install " << kLanguages[l].package << "\n";
            std::exit(2);
        }
        for (std::string line; std::getline(in, line);) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            Word w = normalise(line);
            if (!w.empty() && w.size() <= kMaxLength) sets[l].insert(std::move(w));
        }
    }
    std::map<Word, int> lists;
    for (const auto& s : sets)
        for (const Word& w : s) ++lists[w];
    std::vector<std::vector<Word>> words(kLanguageCount);
    for (std::size_t l = 0; l < kLanguageCount; ++l)
        for (const Word& w : sets[l])
            if (lists[w] == 1) words[l].push_back(w);
    return words;
}

struct Example {
    Word word;
    std::size_t language;
};

// Character ids: 1.. for the training words' characters, the last for any other; 0 pads.
struct Characters {
    std::unordered_map<char32_t, std::size_t> id;
    std::size_t other = 0;
    explicit Characters(const std::vector<Example>& train) {
        for (const Example& e : train)
            for (char32_t c : e.word) id.try_emplace(c, id.size() + 1);
        other = id.size() + 1;
    }
    std::size_t size() const { return other + 1; }  // Embedding's input_dim, padding included
    std::size_t operator()(char32_t c) const {
        const auto found = id.find(c);
        return found == id.end() ? other : found->second;
    }
};

// x (N, T) ids padded with 0 to T, the longest word; y (N,) language indices.
std::pair<recur::Tensor, recur::Tensor> encode(const std::vector<Example>& set, const Characters& chars,
                                               std::size_t length = 0) {
    for (const Example& e : set) length = std::max(length, e.word.size());
    recur::Tensor x({set.size(), length}), y({set.size()});
    for (std::size_t i = 0; i < set.size(); ++i) {
        for (std::size_t t = 0; t < set[i].word.size(); ++t) x(i, t) = static_cast<float>(chars(set[i].word[t]));
        y(i) = static_cast<float>(set[i].language);
    }
    return {std::move(x), std::move(y)};
}

// Character-trigram naive Bayes: log p(language) + sum over the word's trigrams (with start
// and end marks) of log p(trigram | language), add-one smoothed over the trigrams seen.
class TrigramBayes {
public:
    explicit TrigramBayes(const std::vector<Example>& train) : counts_(kLanguageCount), totals_(kLanguageCount), prior_(kLanguageCount) {
        std::set<Word> vocabulary;
        for (const Example& e : train) {
            prior_[e.language] += 1;
            for (const Word& g : trigrams(e.word)) {
                ++counts_[e.language][g];
                totals_[e.language] += 1;
                vocabulary.insert(g);
            }
        }
        vocabulary_ = static_cast<double>(vocabulary.size());
        for (double& p : prior_) p = std::log(p / static_cast<double>(train.size()));
    }
    std::size_t predict(const Word& word) const {
        std::size_t best = 0;
        double best_score = -INFINITY;
        for (std::size_t l = 0; l < kLanguageCount; ++l) {
            double score = prior_[l];
            for (const Word& g : trigrams(word)) {
                const auto found = counts_[l].find(g);
                score += std::log(((found == counts_[l].end() ? 0.0 : found->second) + 1.0) / (totals_[l] + vocabulary_));
            }
            if (score > best_score) best_score = score, best = l;
        }
        return best;
    }

private:
    static std::vector<Word> trigrams(const Word& word) {
        const Word marked = U"^^" + word + U"$$";
        std::vector<Word> out;
        for (std::size_t i = 0; i + 3 <= marked.size(); ++i) out.push_back(marked.substr(i, 3));
        return out;
    }
    std::vector<std::map<Word, double>> counts_;
    std::vector<double> totals_, prior_;
    double vocabulary_ = 0;
};

using Confusion = std::vector<std::vector<std::size_t>>;  // [true][predicted]

double accuracy(const Confusion& m) {
    std::size_t right = 0, all = 0;
    for (std::size_t i = 0; i < m.size(); ++i)
        for (std::size_t j = 0; j < m.size(); ++j) (i == j ? right : all) += m[i][j];
    return static_cast<double>(right) / static_cast<double>(right + all);
}

void print_confusion(const char* title, const Confusion& m) {
    std::printf("%s: test accuracy %.2f%%\n%12s", title, 100.0 * accuracy(m), "true \\ said");
    for (const Language& l : kLanguages) std::printf(" %6.6s", l.name);
    std::printf("\n");
    for (std::size_t i = 0; i < kLanguageCount; ++i) {
        std::printf("%12s", kLanguages[i].name);
        for (std::size_t j = 0; j < kLanguageCount; ++j) std::printf(" %6zu", m[i][j]);
        std::printf("\n");
    }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t per_language = 40000, epochs = 5, units = 64, seed = 7;
    float lr = 0.003f;
    std::string dict = "/usr/share/dict";
    CLI::App app{"recur-language-id: which language is this word? A Bidirectional GRU over the characters of words "
                 "from Debian's word lists, against a character-trigram naive Bayes baseline."};
    app.add_option("--words", per_language, "words per language (all of each list's at most)")->check(recur_examples::count);
    app.add_option("--epochs", epochs, "training epochs")->check(recur_examples::count);
    app.add_option("--units", units, "GRU units each way")->check(recur_examples::count);
    app.add_option("--lr", lr, "Adam's learning rate")->capture_default_str()->check(recur_examples::positive);
    app.add_option("--seed", seed, "the seed of the split, the sample and the weights")->check(recur_examples::whole_number);
    app.add_option("--dict", dict, "where the word lists are");
    CLI11_PARSE(app, argc, argv);

    try {
        // The words, a balanced sample of each language, split 80/10/10.
        std::vector<std::vector<Word>> lists = read_lists(dict);
        std::mt19937_64 generator(seed);
        std::vector<Example> train, validation, test;
        std::printf("words (after dropping those in more than one list):");
        for (std::size_t l = 0; l < kLanguageCount; ++l) {
            std::printf(" %s %zu%s", kLanguages[l].name, lists[l].size(), l + 1 < kLanguageCount ? "," : "\n");
            std::shuffle(lists[l].begin(), lists[l].end(), generator);
            const std::size_t n = std::min(per_language, lists[l].size());
            for (std::size_t i = 0; i < n; ++i) {
                auto& set = i < n * 8 / 10 ? train : i < n * 9 / 10 ? validation : test;
                set.push_back({lists[l][i], l});
            }
        }
        std::shuffle(train.begin(), train.end(), generator);
        const Characters chars(train);
        const auto [x_train, y_train] = encode(train, chars);
        const auto [x_val, y_val] = encode(validation, chars);
        const auto [x_test, y_test] = encode(test, chars);
        std::printf("%zu training, %zu validation, %zu test words; %zu characters; the longest word %zu\n", train.size(),
                    validation.size(), test.size(), chars.size() - 2, x_train.shape()[1]);

        // The baseline.
        const TrigramBayes bayes(train);
        Confusion baseline(kLanguageCount, std::vector<std::size_t>(kLanguageCount));
        for (const Example& e : test) ++baseline[e.language][bayes.predict(e.word)];

        // The network.
        recur::manual_seed(seed);
        recur::Sequential model("language_id");
        model.add(recur::Embedding(chars.size(), 32).mask_zero(true).input_shape({recur::None}));
        model.add(recur::Bidirectional(recur::GRU(units)));
        model.add(recur::Dense(kLanguageCount).activation("softmax"));
        model.compile(recur::Adam().learning_rate(lr), "sparse_categorical_crossentropy", {"accuracy"});
        model.summary();
        const auto start = std::chrono::steady_clock::now();
        model.fit(x_train, y_train,
                  recur::FitOptions().epochs(epochs).batch_size(64).validation_data(x_val, y_val).verbose(2));
        const double epoch_seconds = seconds_since(start) / static_cast<double>(epochs);

        Confusion network(kLanguageCount, std::vector<std::size_t>(kLanguageCount));
        const recur::Tensor p = model.predict(x_test, 256);
        for (std::size_t i = 0; i < test.size(); ++i) {
            const float* row = p.data() + i * kLanguageCount;
            ++network[test[i].language][static_cast<std::size_t>(std::max_element(row, row + kLanguageCount) - row)];
        }
        std::printf("\n");
        print_confusion("Bidirectional GRU", network);
        print_confusion("trigram naive Bayes", baseline);

        // What the padding costs: a pass over the test words padded to the longest and masked,
        // against the same words in batches of one length each (no padding at all).
        std::vector<Example> by_length = test;
        std::stable_sort(by_length.begin(), by_length.end(),
                         [](const Example& a, const Example& b) { return a.word.size() < b.word.size(); });
        auto time_padded = [&] {
            const auto t0 = std::chrono::steady_clock::now();
            model.predict(x_test, 256);
            return seconds_since(t0);
        };
        auto time_unpadded = [&] {
            double total = 0;
            for (std::size_t i = 0; i < by_length.size();) {
                std::size_t j = i;
                while (j < by_length.size() && by_length[j].word.size() == by_length[i].word.size()) ++j;
                const auto [x, y] = encode({by_length.begin() + static_cast<std::ptrdiff_t>(i), by_length.begin() + static_cast<std::ptrdiff_t>(j)}, chars);
                const auto t0 = std::chrono::steady_clock::now();
                model.predict(x, 256);
                total += seconds_since(t0);
                i = j;
            }
            return total;
        };
        std::vector<double> padded, unpadded;
        for (int round = 0; round < 5; ++round) padded.push_back(time_padded()), unpadded.push_back(time_unpadded());
        std::sort(padded.begin(), padded.end());
        std::sort(unpadded.begin(), unpadded.end());
        std::size_t real = 0;
        for (const Example& e : test) real += e.word.size();
        std::printf("\nepoch: %.2f s. Predicting the %zu test words (medians of 5): padded to %zu and masked %.1f ms, "
                    "in batches of one length %.1f ms (%.2fx); real steps %.0f%% of the padded ones\n",
                    epoch_seconds, test.size(), x_test.shape()[1], 1e3 * padded[2], 1e3 * unpadded[2], padded[2] / unpadded[2],
                    100.0 * static_cast<double>(real) / static_cast<double>(test.size() * x_test.shape()[1]));

        const bool better = accuracy(network) > accuracy(baseline);
        std::printf("%s\n", better ? "the network beats the baseline" : "the network does NOT beat the baseline");
        return better ? 0 : 1;
    } catch (const recur::Error& e) {
        std::cerr << "recur-language-id: " << e.what() << "\n";
        return 2;
    }
}
