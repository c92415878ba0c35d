#pragma once
#include <stdexcept>
#include <string>

namespace recur {

// Everything a caller can get wrong is reported as a recur::Error whose message names
// the call, what was expected and what was given.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace recur
