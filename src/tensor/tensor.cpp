#include <recur/tensor.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <new>
#include <ostream>
#include <sstream>
#include <utility>

#include "tensor/sizes.hpp"

namespace recur {

// ---- Shape ----

std::size_t Shape::elements() const {
    std::size_t n = 1;
    for (std::size_t d : *this) {
        if (d == None) throw Error("Shape: " + str() + " has a dimension of unknown length (None)");
        if (__builtin_mul_overflow(n, d, &n))
            throw Error("Shape: " + str() + " has more elements than a size_t can count");
    }
    return n;
}

std::size_t Shape::operator[](std::size_t axis) const {
    if (axis >= rank_)
        throw Error("Shape: axis " + std::to_string(axis) + " is out of range for shape " + str());
    return dims_[axis];
}

Shape Shape::prepend(std::size_t dim) const {
    if (rank_ == kMaxRank) throw Error("Shape::prepend: " + str() + " already has the most axes a shape can have");
    Shape out;
    out.dims_[0] = dim;
    std::copy(begin(), end(), out.dims_.begin() + 1);
    out.rank_ = rank_ + 1;
    return out;
}

Shape Shape::drop_front() const {
    if (rank_ == 0) throw Error("Shape::drop_front: the shape () has no axis to drop");
    Shape out;
    std::copy(begin() + 1, end(), out.dims_.begin());
    out.rank_ = rank_ - 1;
    return out;
}

namespace {
std::string tuple_string(const std::vector<std::string>& items) {
    std::string out = "(";
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
    return out + (items.size() == 1 ? ",)" : ")");
}

std::string dimension_string(std::size_t d) { return d == None ? "None" : std::to_string(d); }
}  // namespace

std::string Shape::str() const {
    std::vector<std::string> items;
    for (std::size_t d : *this) items.push_back(dimension_string(d));
    return tuple_string(items);
}

std::string Shape::str_with_batch() const {
    std::vector<std::string> items{"None"};
    for (std::size_t d : *this) items.push_back(dimension_string(d));
    return tuple_string(items);
}

bool Shape::fits(const Shape& pattern) const {
    return std::equal(begin(), end(), pattern.begin(), pattern.end(),
                      [](std::size_t d, std::size_t wanted) { return wanted == None || d == wanted; });
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << shape.str(); }

// ---- TensorView ----

std::size_t TensorView::offset_of(std::initializer_list<std::size_t> index) const {
    if (index.size() != shape_.rank())
        throw Error("Tensor element access: expected " + std::to_string(shape_.rank()) +
                    " indices for shape " + shape_.str() + ", got " + std::to_string(index.size()));
    std::size_t offset = 0, axis = 0;
    for (std::size_t i : index) {
        if (i >= shape_[axis])
            throw Error("Tensor element access: index " + std::to_string(i) + " is out of range for axis " +
                        std::to_string(axis) + " of shape " + shape_.str());
        offset = offset * shape_[axis] + i;
        ++axis;
    }
    return offset;
}

TensorView TensorView::operator[](std::size_t i) const {
    if (shape_.rank() == 0) throw Error("Tensor[]: a scalar of shape () has no slices");
    if (i >= shape_[0])
        throw Error("Tensor[]: index " + std::to_string(i) + " is out of range for shape " + shape_.str());
    Shape inner = shape_.drop_front();
    return TensorView(data_ + i * inner.elements(), inner);
}

namespace {

// NumPy's default float style: up to 8 decimals, as few as round-trip, "0." for whole numbers.
std::string format_value(float v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    std::string s(buf, end);
    auto dot = s.find('.');
    if (dot == std::string::npos) return s + ".";
    if (s.size() - dot - 1 > 8) {
        auto [end8, ec8] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 8);
        s.assign(buf, end8);
        while (s.back() == '0') s.pop_back();
    }
    return s;
}

struct Formatted {
    std::vector<std::string> text;
    std::size_t int_width = 0, frac_width = 0;
};

void print_level(std::ostream& os, const Formatted& f, const Shape& shape, std::size_t axis,
                 std::size_t& next, std::size_t indent) {
    os << '[';
    const std::size_t n = shape[axis];
    if (axis + 1 == shape.rank()) {
        for (std::size_t i = 0; i < n; ++i) {
            const std::string& s = f.text[next++];
            const std::size_t dot = s.find('.');
            const std::size_t int_part = dot == std::string::npos ? s.size() : dot;
            const std::size_t frac_part = dot == std::string::npos ? 0 : s.size() - dot - 1;
            if (i) os << ' ';
            os << std::string(f.int_width - std::min(f.int_width, int_part), ' ') << s
               << std::string(f.frac_width - std::min(f.frac_width, frac_part), ' ');
        }
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            if (i) os << std::string(shape.rank() - axis - 1, '\n') << std::string(indent + 1, ' ');
            print_level(os, f, shape, axis + 1, next, indent + 1);
        }
    }
    os << ']';
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const TensorView& view) {
    const Shape& shape = view.shape();
    if (shape.rank() == 0) return os << format_value(view.data()[0]);
    Formatted f;
    for (float v : view) {
        std::string s = format_value(v);
        const std::size_t dot = s.find('.');
        f.int_width = std::max(f.int_width, dot == std::string::npos ? s.size() : dot);
        f.frac_width = std::max(f.frac_width, dot == std::string::npos ? 0 : s.size() - dot - 1);
        f.text.push_back(std::move(s));
    }
    if (view.size() == 0) return os << std::string(shape.rank(), '[') << std::string(shape.rank(), ']');
    std::size_t next = 0;
    print_level(os, f, shape, 0, next, 0);
    return os;
}

std::ostream& operator<<(std::ostream& os, const Tensor& tensor) { return os << tensor.view(); }

// ---- Tensor ----

void Tensor::AlignedFree::operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }

namespace {
float* allocate_aligned(const Shape& shape) {
    const std::size_t n = shape.elements();
    const auto fail = [&](const char* why) {
        char gib[32];
        std::snprintf(gib, sizeof gib, "%.3g", static_cast<double>(n) * sizeof(float) / (1 << 30));
        return Error("Tensor: cannot allocate " + std::to_string(n) + " floats (" + gib + " GiB) for shape " +
                     shape.str() + ": " + why);
    };
    if (n > detail::kMaxFloats) throw fail("more than memory can address");
    // 64 bytes: one cache line, and the width of an AVX-512 register. The nothrow form: a
    // sanitizer's throwing one aborts the process when memory runs out.
    void* p = ::operator new[](std::max<std::size_t>(n, 1) * sizeof(float), std::align_val_t(64), std::nothrow);
    if (!p) throw fail("out of memory");
    return static_cast<float*>(p);
}
}  // namespace

Tensor::Tensor(Shape shape) : shape_(std::move(shape)), data_(allocate_aligned(shape_)) {
    std::fill_n(data_.get(), shape_.elements(), 0.0f);
}

Tensor::Tensor(Tensor&& other) noexcept
    : shape_(std::exchange(other.shape_, Shape{std::size_t{0}})), data_(std::move(other.data_)) {}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
    shape_ = std::exchange(other.shape_, Shape{std::size_t{0}});
    data_ = std::move(other.data_);
    return *this;
}

Tensor::Tensor(Shape shape, std::vector<float> values) : Tensor(std::move(shape)) {
    if (values.size() != size())
        throw Error("Tensor: shape " + shape_.str() + " holds " + std::to_string(size()) +
                    " values, but " + std::to_string(values.size()) + " were given");
    std::copy(values.begin(), values.end(), data_.get());
}

Tensor::Tensor(const Tensor& other) : shape_(other.shape_) {
    if (other.data_) {
        data_.reset(allocate_aligned(shape_));
        std::copy(other.begin(), other.end(), data_.get());
    }
}

Tensor& Tensor::operator=(const Tensor& other) {
    if (this != &other) *this = Tensor(other);
    return *this;
}

Tensor Tensor::reshape(Shape shape) const {
    if (shape.elements() != size())
        throw Error("Tensor::reshape: cannot reshape " + shape_.str() + " (" + std::to_string(size()) +
                    " values) to " + shape.str() + " (" + std::to_string(shape.elements()) + " values)");
    Tensor out(std::move(shape));
    std::copy(begin(), end(), out.data());
    return out;
}

}  // namespace recur
