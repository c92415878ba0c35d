#pragma once
// recur: Keras-style recurrent networks trained and run on the CPU.
#include "callbacks.hpp"
#include "data.hpp"
#include "error.hpp"
#include "io.hpp"
#include "layers.hpp"
#include "losses.hpp"
#include "model.hpp"
#include "optimizers.hpp"
#include "random.hpp"
#include "stream.hpp"
#include "tensor.hpp"
#include "threads.hpp"
