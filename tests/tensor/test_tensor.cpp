#include <doctest/doctest.h>

#include <cstdint>
#include <sstream>

#include <recur/tensor.hpp>

using recur::Shape;
using recur::Tensor;

template <class T>
std::string printed(const T& value) {
    std::ostringstream os;
    os << value;
    return os.str();
}

TEST_CASE("shapes print as Python tuples") {
    CHECK(printed(Shape{10, 5, 1}) == "(10, 5, 1)");
    CHECK(printed(Shape{10}) == "(10,)");
    CHECK(printed(Shape()) == "()");
    CHECK(Shape{5, 1}.str_with_batch() == "(None, 5, 1)");
    CHECK(Shape{10, 5, 1}.elements() == 50);
    CHECK_THROWS_WITH_AS(Shape(3, -1), doctest::Contains("dimensions must be >= 0, got -1"), recur::Error);
}

TEST_CASE("a tensor owns aligned row-major storage") {
    Tensor t({2, 3}, {1, 2, 3, 4, 5, 6});
    CHECK(t.shape() == Shape{2, 3});
    CHECK(t.size() == 6);
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
    CHECK(t.data()[5] == 6.0f);
    CHECK(t(1, 2) == 6.0f);
    CHECK(t(1, 0) == 4.0f);
    t(0, 1) = 9.0f;
    CHECK(t.data()[1] == 9.0f);
    CHECK(Tensor(Shape{4}).data()[3] == 0.0f);
}

TEST_CASE("copies are deep, moves are cheap") {
    Tensor a({2}, {1, 2});
    Tensor b = a;
    b(0) = 7.0f;
    CHECK(a(0) == 1.0f);
    const float* storage = a.data();
    Tensor c = std::move(a);
    CHECK(c.data() == storage);
}

TEST_CASE("indexing a sample gives a view onto the same storage") {
    Tensor x({3, 2, 1}, {0, 1, 2, 3, 4, 5});
    recur::TensorView second = x[1];
    CHECK(second.shape() == Shape{2, 1});
    CHECK(second.data() == x.data() + 2);
    CHECK(second(1, 0) == 3.0f);
    CHECK(x[2][1](0) == 5.0f);
}

TEST_CASE("bad construction and access are rejected with the shapes named") {
    CHECK_THROWS_WITH_AS(Tensor({2, 3}, {1, 2, 3}), doctest::Contains("shape (2, 3) holds 6 values, but 3 were given"),
                         recur::Error);
    Tensor t({2, 3});
    CHECK_THROWS_WITH_AS(t(2, 0), doctest::Contains("index 2 is out of range for axis 0 of shape (2, 3)"), recur::Error);
    CHECK_THROWS_WITH_AS(t(1), doctest::Contains("expected 2 indices for shape (2, 3), got 1"), recur::Error);
    CHECK_THROWS_WITH_AS(t[5], doctest::Contains("index 5 is out of range for shape (2, 3)"), recur::Error);
    CHECK_THROWS_WITH_AS(t.reshape(Shape{4}), doctest::Contains("cannot reshape (2, 3)"), recur::Error);
}

TEST_CASE("printing follows NumPy") {
    CHECK(printed(Tensor({3}, {0.5f, 1.0f, 1.25f})) == "[0.5  1.   1.25]");
    CHECK(printed(Tensor({2, 1}, {0.0f, 0.1f})) == "[[0. ]\n [0.1]]");
    CHECK(printed(Tensor({2, 1, 2}, {1, 2, 3, 4})) == "[[[1. 2.]]\n\n [[3. 4.]]]");
    CHECK(printed(Tensor({2}, {-1.5f, 20.0f})) == "[-1.5 20. ]");
}

TEST_CASE("reshape keeps the values") {
    Tensor t({2, 3}, {1, 2, 3, 4, 5, 6});
    Tensor r = t.reshape(Shape{3, 2});
    CHECK(r.shape() == Shape{3, 2});
    CHECK(r(2, 1) == 6.0f);
}
