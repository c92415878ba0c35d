#pragma once
// The boundary of a public call: whatever the standard library or a dependency throws on
// the way (out of memory, a length error, a JSON type error) leaves as a recur::Error that
// names the call, so that callers need to catch one type.
#include <exception>
#include <new>
#include <string>
#include <utility>

#include <recur/error.hpp>

namespace recur::detail {

template <class F>
decltype(auto) api_call(const std::string& call, F&& body) {
    try {
        return std::forward<F>(body)();
    } catch (const Error&) {
        throw;
    } catch (const std::bad_alloc&) {
        throw Error(call + ": out of memory");
    } catch (const std::exception& e) {
        throw Error(call + ": " + e.what());
    }
}

}  // namespace recur::detail
