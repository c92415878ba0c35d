#pragma once
// Which calls are running on a model. Calls that change it (add, compile, fit,
// train_on_batch, and a first predict that builds it) need it alone; calls that only read it
// (predict, evaluate, save, stream) may run together. A call that breaks this from another
// thread gets a recur::Error instead of a data race. The thread already inside a call may
// make more (a callback that evaluates or saves during fit).
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>

#include <recur/error.hpp>

namespace recur::detail {

enum class Access { read, change };

class Occupancy {
public:
    // Marks the model built: from then on a read does not need the model alone.
    void set_built() {
        std::lock_guard lock(mutex_);
        built_ = true;
    }

    // Holds the model for one call; the destructor lets go.
    class Hold {
    public:
        Hold(Occupancy& occupancy, Access access, const std::string& call) : occupancy_(occupancy) {
            std::lock_guard lock(occupancy.mutex_);
            const auto me = std::this_thread::get_id();
            const bool mine = occupancy.changers_ > 0 && occupancy.changer_ == me;
            changing_ = access == Access::change || !occupancy.built_;
            if (changing_ && !mine && (occupancy.changers_ > 0 || occupancy.readers_ > 0))
                throw Error(call + ": the model is in use by a call on another thread; add, compile, fit, "
                                   "train_on_batch and a first predict (which builds the model) need it alone");
            if (!changing_ && !mine && occupancy.changers_ > 0)
                throw Error(call + ": the model is being changed by a call on another thread (add, compile, fit, "
                                   "train_on_batch or a first predict); wait until that call returns");
            if (changing_) {
                occupancy.changer_ = me;
                ++occupancy.changers_;
            } else {
                ++occupancy.readers_;
            }
        }
        Hold(const Hold&) = delete;
        Hold& operator=(const Hold&) = delete;
        ~Hold() {
            std::lock_guard lock(occupancy_.mutex_);
            --(changing_ ? occupancy_.changers_ : occupancy_.readers_);
        }

    private:
        Occupancy& occupancy_;
        bool changing_;
    };

private:
    std::mutex mutex_;
    bool built_ = false;
    std::thread::id changer_;
    std::size_t changers_ = 0, readers_ = 0;
};

}  // namespace recur::detail
