// Writes the model fuzzer's seed corpus: small model files that between them reach every
// layer kind and option, every optimizer and loss, the user metadata and the checkpoint
// path. Run from the repository root after a change to the model file format:
//   build/tests/fuzz/make_model_seeds tests/fuzz/corpus/model
#include <recur/recur.hpp>

#include <cmath>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_model_seeds DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    recur::manual_seed(1);
    auto sine = [](recur::Shape shape) {
        recur::Tensor t(shape);
        for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = std::sin(0.37f * static_cast<float>(i));
        return t;
    };

    recur::Sequential rnn_dense;  // the seed tutorial's shape, with a softmax head
    rnn_dense.add(recur::SimpleRNN(3).input_shape({4, 2}));
    rnn_dense.add(recur::Dense(2).activation("softmax"));
    rnn_dense.compile(recur::Adam(), recur::SparseCategoricalCrossentropy(), {"accuracy"});
    rnn_dense.save(dir + "/rnn_dense.safetensors");

    recur::Sequential stacked;  // every SimpleRNN option, SGD with momentum, binary crossentropy
    stacked.add(recur::SimpleRNN(5).activation("relu").return_sequences(true).go_backwards(true).use_bias(false)
                    .input_shape({3, 2}));
    stacked.add(recur::SimpleRNN(3).activation("sigmoid"));
    stacked.add(recur::Dense(2).activation("sigmoid"));
    stacked.compile(recur::SGD().momentum(0.9f).nesterov(true).clipnorm(1.0f), recur::BinaryCrossentropy(),
                    {"accuracy", "mae"});
    stacked.metadata()["note"] = "seed";
    stacked.save(dir + "/stacked.safetensors");

    recur::Sequential sequence;  // a per-timestep head, categorical crossentropy from logits
    sequence.add(recur::SimpleRNN(4).return_sequences(true).input_shape({3, 1}));
    sequence.add(recur::Dense(3));
    sequence.compile(recur::Adam().global_clipnorm(2.0f), recur::CategoricalCrossentropy().from_logits(true));
    sequence.save(dir + "/sequence.safetensors");

    recur::Sequential dense;  // Dense alone, RMSprop, Huber, a checkpoint after some training
    dense.add(recur::Dense(4).activation("tanh").input_shape({3}));
    dense.add(recur::Dense(1).use_bias(false));
    dense.compile(recur::RMSprop().clipvalue(0.5f), recur::Huber().delta(0.5f));
    dense.fit(sine({8, 3}), sine({8, 1}), recur::FitOptions().epochs(2).batch_size(4).verbose(0));
    dense.save_checkpoint(dir + "/dense_checkpoint.safetensors");

    recur::Sequential embedding;  // ids, a checkpoint of an Adam run
    embedding.add(recur::Embedding(5, 2).input_shape({3}));
    embedding.add(recur::SimpleRNN(2));
    embedding.add(recur::Dense(1));
    embedding.compile("adam", "mse");
    recur::Tensor ids({4, 3}, {0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1});
    embedding.fit(ids, sine({4, 1}), recur::FitOptions().epochs(1).verbose(0));
    embedding.save_checkpoint(dir + "/embedding_checkpoint.safetensors");

    recur::Sequential gated;  // LSTM and both GRUs with their options, a checkpoint of an Adam run
    gated.add(recur::LSTM(3).return_sequences(true).unit_forget_bias(false).recurrent_activation("tanh")
                  .input_shape({4, 2}));
    gated.add(recur::GRU(3).return_sequences(true).go_backwards(true));
    gated.add(recur::GRU(2).reset_after(false).activation("relu").use_bias(false));
    gated.add(recur::Dense(1));
    gated.compile("adam", "mse");
    gated.fit(sine({6, 4, 2}), sine({6, 1}), recur::FitOptions().epochs(1).batch_size(3).verbose(0));
    gated.save_checkpoint(dir + "/gated_checkpoint.safetensors");

    recur::Sequential masked;  // any length, Masking, Bidirectional both ways, a checkpoint
    masked.add(recur::Masking(0.0f).input_shape({recur::None, 2}));
    masked.add(recur::Bidirectional(recur::LSTM(3).return_sequences(true)).merge_mode("ave"));
    masked.add(recur::Bidirectional(recur::GRU(2).reset_after(false)));
    masked.add(recur::Dense(2).activation("softmax"));
    masked.compile("adam", "sparse_categorical_crossentropy");
    recur::Tensor labels({6});
    labels(1) = labels(4) = 1.0f;
    masked.fit(sine({6, 5, 2}), labels, recur::FitOptions().epochs(1).batch_size(3).verbose(0));
    masked.save_checkpoint(dir + "/masked_checkpoint.safetensors");

    recur::Sequential stateful;  // padding ids, a stateful layer
    stateful.add(recur::Embedding(6, 2).mask_zero(true).input_shape({4}));
    stateful.add(recur::SimpleRNN(3).stateful(true).return_sequences(true));
    stateful.add(recur::Dense(1));
    stateful.compile("sgd", "mse");
    stateful.save(dir + "/stateful.safetensors");

    recur::Sequential regularized;  // Dropout, every regularizer, a scheduled AdamW with amsgrad, metric objects
    regularized.add(recur::Embedding(5, 3).embeddings_regularizer(recur::L2(0.01f)).input_shape({4}));
    regularized.add(recur::Bidirectional(recur::GRU(2).return_sequences(true).kernel_regularizer(recur::L1(0.01f))
                                             .recurrent_regularizer(recur::L1L2(0.01f, 0.02f))));
    regularized.add(recur::Dropout(0.25f));
    regularized.add(recur::LSTM(2).bias_regularizer(recur::L2(0.1f)));
    regularized.add(recur::Dense(3).kernel_regularizer(recur::L1L2(0.1f, 0.0f)).activation("softmax"));
    regularized.compile(recur::AdamW().amsgrad(true).learning_rate(recur::CosineDecay(0.0f, 20, 0.1f, 0.01f, 5)),
                        "sparse_categorical_crossentropy",
                        {"accuracy", recur::SparseTopKCategoricalAccuracy(2), recur::BinaryAccuracy(0.3f)});
    regularized.train_on_batch(recur::Tensor({2, 4}, {1, 2, 3, 4, 0, 1, 2, 3}), recur::Tensor({2}, {0, 2}));
    regularized.save_checkpoint(dir + "/regularized_checkpoint.safetensors");

    recur::Sequential decayed;  // Adagrad and Nadam checkpoints, piecewise and exponential schedules
    decayed.add(recur::SimpleRNN(2).input_shape({3, 1}));
    decayed.add(recur::Dense(1));
    decayed.compile(recur::Adagrad().weight_decay(0.01f).learning_rate(recur::PiecewiseConstantDecay({2, 5}, {0.1f, 0.05f, 0.01f})),
                    "mse", {"rmse", "mse"});
    decayed.train_on_batch(recur::Tensor({1, 3, 1}, {0.1f, 0.2f, 0.3f}), recur::Tensor({1, 1}, {0.5f}));
    decayed.save_checkpoint(dir + "/adagrad_checkpoint.safetensors");
    decayed.compile(recur::Nadam().learning_rate(recur::ExponentialDecay(0.01f, 10, 0.9f, true)), "mse");
    decayed.train_on_batch(recur::Tensor({1, 3, 1}, {0.1f, 0.2f, 0.3f}), recur::Tensor({1, 1}, {0.5f}));
    decayed.save_checkpoint(dir + "/nadam_checkpoint.safetensors");

    recur::Sequential plain;  // not compiled
    plain.add(recur::SimpleRNN(2).input_shape({2, 1}));
    plain.save(dir + "/uncompiled.safetensors");
    return 0;
}
