#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "error.hpp"

namespace recur {

// Keras's None in a per-sample shape: a time axis of any length, as in
// `input_shape({recur::None, D})`. Only a layer's input (and what follows from it) may hold
// it; a tensor's shape never does.
inline constexpr std::size_t None = static_cast<std::size_t>(-1);

// The dimensions of a tensor, printed as Python prints a tuple: (10, 5, 1), (10,), ().
// Stored inline (up to kMaxRank axes), so shapes and views are copied without allocating.
class Shape {
public:
    static constexpr std::size_t kMaxRank = 8;

    Shape() = default;
    explicit Shape(const std::vector<std::size_t>& dims) { assign(dims.begin(), dims.end()); }
    // Shape{10, 5, 1}; taking any integers keeps `input_shape({T, D})` free of narrowing errors.
    template <class... I>
        requires(sizeof...(I) > 0 && sizeof...(I) <= kMaxRank && (std::is_integral_v<I> && ...))
    Shape(I... dims) : dims_{checked(dims)...}, rank_(sizeof...(I)) {}

    std::size_t rank() const { return rank_; }
    // The product of the dimensions (1 for rank 0); a recur::Error when it overflows or a
    // dimension is None.
    std::size_t elements() const;
    std::size_t operator[](std::size_t axis) const;
    std::size_t back() const {
        if (rank_ == 0) throw Error("Shape::back: the shape () has no axes");
        return dims_[rank_ - 1];
    }
    std::vector<std::size_t> dims() const { return {begin(), end()}; }
    const std::size_t* begin() const { return dims_.data(); }
    const std::size_t* end() const { return dims_.data() + rank_; }
    bool operator==(const Shape& other) const { return std::equal(begin(), end(), other.begin(), other.end()); }

    Shape prepend(std::size_t dim) const;  // (5, 1) -> (dim, 5, 1)
    Shape drop_front() const;              // (10, 5, 1) -> (5, 1)
    std::string str() const;               // "(10, 5, 1)"; None prints as None
    std::string str_with_batch() const;    // "(None, 5, 1)"
    // Whether this shape is `pattern` with each None of the pattern any length: (7, 3) fits (None, 3).
    bool fits(const Shape& pattern) const;

private:
    template <class I>
    static std::size_t checked(I dim) {
        if constexpr (std::is_signed_v<I>)
            if (dim < 0) throw Error("Shape: dimensions must be >= 0, got " + std::to_string(dim));
        return static_cast<std::size_t>(dim);
    }
    template <class It>
    void assign(It first, It last) {
        if (static_cast<std::size_t>(last - first) > kMaxRank)
            throw Error("Shape: at most " + std::to_string(kMaxRank) + " dimensions, got " +
                        std::to_string(last - first));
        rank_ = static_cast<std::size_t>(std::copy(first, last, dims_.begin()) - dims_.begin());
    }
    std::array<std::size_t, kMaxRank> dims_{};
    std::size_t rank_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Shape& shape);

// A read-only window onto float32 row-major storage owned by someone else (a Tensor,
// a model's output buffer). Cheap to copy; valid as long as its owner is.
class TensorView {
public:
    TensorView() = default;  // empty: shape (0,)
    TensorView(const float* data, Shape shape) : data_(data), shape_(std::move(shape)) {}

    const Shape& shape() const { return shape_; }
    std::size_t size() const { return shape_.elements(); }
    const float* data() const { return data_; }
    const float* begin() const { return data_; }
    const float* end() const { return data_ + size(); }

    // Element access with one index per axis; indices are checked.
    template <class... I>
    float operator()(I... index) const {
        return data_[offset_of({checked_index(index)...})];
    }
    // The i-th slice along the first axis (the i-th sample of a batch).
    TensorView operator[](std::size_t i) const;

    std::size_t offset_of(std::initializer_list<std::size_t> index) const;

    // An index given as any integer; a negative one is a recur::Error rather than a huge one.
    template <class I>
    static std::size_t checked_index(I index) {
        static_assert(std::is_integral_v<I>, "tensor indices are integers");
        if constexpr (std::is_signed_v<I>)
            if (index < 0) throw Error("Tensor element access: index " + std::to_string(index) + " is negative");
        return static_cast<std::size_t>(index);
    }

private:
    const float* data_ = nullptr;
    Shape shape_{std::size_t{0}};
};

// Prints like NumPy: nested brackets, aligned columns, `0.` for whole numbers.
std::ostream& operator<<(std::ostream& os, const TensorView& view);

// Owns 64-byte-aligned, row-major float32 storage.
class Tensor {
public:
    Tensor() = default;            // empty: shape (0,)
    // Zero-filled. A shape too large to allocate is a recur::Error naming its size.
    explicit Tensor(Shape shape);
    // Tensor({10, 5, 1}): zero-filled, with the shape written out.
    explicit Tensor(std::initializer_list<std::size_t> shape) : Tensor(Shape(std::vector<std::size_t>(shape))) {}
    Tensor(Shape shape, std::vector<float> values);
    Tensor(const Tensor& other);
    // A moved-from tensor is empty, shape (0,).
    Tensor(Tensor&& other) noexcept;
    Tensor& operator=(const Tensor& other);
    Tensor& operator=(Tensor&& other) noexcept;
    ~Tensor() = default;

    const Shape& shape() const { return shape_; }
    std::size_t size() const { return shape_.elements(); }
    std::size_t rank() const { return shape_.rank(); }
    float* data() { return data_.get(); }
    const float* data() const { return data_.get(); }
    float* begin() { return data(); }
    float* end() { return data() + size(); }
    const float* begin() const { return data(); }
    const float* end() const { return data() + size(); }

    template <class... I>
    float& operator()(I... index) {
        return data()[view().offset_of({TensorView::checked_index(index)...})];
    }
    template <class... I>
    float operator()(I... index) const {
        return view()(index...);
    }
    TensorView operator[](std::size_t i) const { return view()[i]; }
    TensorView view() const { return TensorView(data(), shape_); }
    operator TensorView() const { return view(); }

    // Same values, new shape with the same number of elements.
    Tensor reshape(Shape shape) const;

private:
    struct AlignedFree {
        void operator()(float* p) const;
    };
    Shape shape_{std::size_t{0}};
    std::unique_ptr<float[], AlignedFree> data_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& tensor);

}  // namespace recur
