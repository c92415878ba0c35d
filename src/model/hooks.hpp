#pragma once
// How fit drives the callbacks it is given.
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <recur/callbacks.hpp>

namespace recur::detail {

// A hook's exception, carried past fit's own error handling (which would rewrap it in a
// recur::Error) to fit's caller unchanged.
struct HookFailure {
    std::exception_ptr error;
};

// The callbacks of one fit, bound to its model for as long as this lives.
class Hooks {
public:
    // A callback already bound to a model (in another fit) is a recur::Error naming `call`.
    Hooks(const std::vector<CallbackEntry>& entries, Sequential& model, const std::string& call);
    Hooks(const Hooks&) = delete;
    Hooks& operator=(const Hooks&) = delete;
    ~Hooks();

    // hook(callback) for each callback in order; what a hook throws leaves as a HookFailure.
    template <class Hook>
    void each(Hook&& hook) {
        for (const auto& c : callbacks_) {
            try {
                hook(*c);
            } catch (...) {
                throw HookFailure{std::current_exception()};
            }
        }
    }

private:
    void release();
    std::vector<std::shared_ptr<Callback>> callbacks_;
};

// Marks a model as inside fit (so that a callback cannot add, compile or fit it again) and
// clears its stop_training flag, as Keras's fit does.
class Fitting {
public:
    Fitting(bool& fitting, bool& stop_training) : fitting_(fitting) {
        fitting_ = true;
        stop_training = false;
    }
    Fitting(const Fitting&) = delete;
    Fitting& operator=(const Fitting&) = delete;
    ~Fitting() { fitting_ = false; }

private:
    bool& fitting_;
};

}  // namespace recur::detail
