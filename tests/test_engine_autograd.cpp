// The autograd tape: accumulation, skip connections, no-grad, release of saved tensors, the Graphviz
// dump; flat parameters and Adam; the caching allocator's steady state; a short training run.
#include <cmath>

#include "engine/io.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "engine_test_util.h"
#include "models/unet.h"

using namespace tint;

TEST_CASE("a tensor used twice receives the sum of its gradients", "[engine][autograd]") {
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(11);
    Tensor x = Tensor::uniform({2, 3, 1, 1}, -1, 1, rng, d).set_requires_grad(true);
    // y = sum(x + x) + sum(3 x)  =>  dy/dx = 2 + 3 = 5 everywhere
    Tensor y = ops::add(ops::sum(ops::add(x, x)), ops::sum(ops::scale(x, 3.0f)));
    y.backward();
    for (float g : x.grad().to_vector()) CHECK(g == Approx(5.0f));
    // A second backward through a fresh graph accumulates into the leaf.
    ops::sum(x).backward();
    for (float g : x.grad().to_vector()) CHECK(g == Approx(6.0f));
  }
}

TEST_CASE("a graph with a skip connection gets both paths' gradients", "[engine][autograd]") {
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(12);
    Tensor x = Tensor::uniform({2, 2, 4, 4}, -1, 1, rng, d);
    Tensor w1 = Tensor::uniform({3, 2, 3, 3}, -1, 1, rng, d);
    Tensor w2 = Tensor::uniform({2, 6, 3, 3}, -1, 1, rng, d);
    Tensor t = Tensor::uniform({2, 2, 4, 4}, -1, 1, rng, d);
    auto o = ops::Conv2dOptions::square(1, 1);
    tint::testing::check_gradients("skip " + d.str(), {x, w1, w2}, [&](const std::vector<Tensor>& in) {
      Tensor h = ops::conv2d(in[0], in[1], Tensor(), o);            // h feeds two consumers:
      Tensor z = ops::concat_channels(ops::tanh(h), h);            // a tanh path and the skip itself
      return ops::mse_loss(ops::conv2d(z, in[2], Tensor(), o), t);
    });
  }
}

TEST_CASE("no-grad records nothing", "[engine][autograd]") {
  Rng rng(13);
  Tensor x = Tensor::uniform({1, 1, 3, 3}, -1, 1, rng).set_requires_grad(true);
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor y = ops::relu(ops::scale(x, 2.0f));
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    CHECK_THROWS_WITH(ops::sum(y).backward(), Catch::Contains("does not require a gradient"));
  }
  CHECK(grad_enabled());
  Tensor y = ops::relu(x);
  CHECK(y.requires_grad());
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(std::string(y.grad_fn()->name()) == "relu");
}

TEST_CASE("backward releases saved tensors and refuses a second walk", "[engine][autograd]") {
  Rng rng(14);
  Device d = Device::cpu();
  Tensor x = Tensor::uniform({4, 8, 16, 16}, -1, 1, rng, d);
  Tensor w = Tensor::uniform({8, 8, 3, 3}, -1, 1, rng, d).set_requires_grad(true);
  const size_t before = runtime(d).allocator.stats().bytes_in_use;
  Tensor loss;
  size_t during;
  {
    Tensor h = ops::relu(ops::conv2d(x, w, Tensor(), ops::Conv2dOptions::square(1, 1)));
    loss = ops::sum(ops::tanh(h));
    during = runtime(d).allocator.stats().bytes_in_use;
  }
  CHECK(during > before + 3 * 8192 * sizeof(float));  // h, relu's input and tanh's output are held by the graph
  loss.backward();
  const size_t after = runtime(d).allocator.stats().bytes_in_use;
  // What remains: the loss, w's gradient, small scalars. The activations are gone.
  CHECK(after < before + 8192 * sizeof(float));
  CHECK_THROWS_WITH(loss.backward(), Catch::Contains("already walked"));
}

TEST_CASE("the Graphviz dump names ops, shapes, parameters and saved tensors", "[engine][autograd]") {
  Rng rng(15);
  nn::Sequential net;
  net.add(std::make_shared<nn::Conv2d>(1, 4, 3, 1, 1, rng)).add(std::make_shared<nn::ReLU>());
  net.add(std::make_shared<nn::ConvTranspose2d>(4, 2, 4, 2, 1, 0, rng)).add(std::make_shared<nn::Tanh>());
  net.named_parameters();  // names the parameters
  Tensor y = net(Tensor::uniform({1, 1, 8, 8}, -1, 1, rng));
  std::string dot = graphviz(y);
  CHECK(dot.find("digraph") == 0);
  for (const char* s : {"conv2d", "relu", "conv_transpose2d", "tanh", "0.weight", "2.bias", "(1, 2, 16, 16)"})
    CHECK(dot.find(s) != std::string::npos);
  // What each backward keeps: the conv its input and weight, relu its input, tanh its output.
  for (const char* s : {"saved: x (1, 1, 8, 8), w (4, 1, 3, 3)", "saved: x (1, 4, 8, 8)",
                        "saved: x (1, 4, 8, 8), w (4, 2, 4, 4)", "saved: y (1, 2, 16, 16)"})
    CHECK(dot.find(s) != std::string::npos);
  // Once backward has released them, they are gone from the picture.
  ops::sum(y).backward();
  CHECK(graphviz(y).find("saved:") == std::string::npos);
}

TEST_CASE("nn modules use PyTorch's names and default initialisation bounds", "[engine][nn]") {
  Rng rng(16);
  models::UNet unet({8, 2}, rng);
  auto named = unet.named_parameters();
  std::vector<std::string> names;
  for (auto& [n, t] : named) names.push_back(n);
  CHECK(names.front() == "down.0.conv1.weight");
  CHECK(std::find(names.begin(), names.end(), "up.1.upconv.weight") != names.end());
  CHECK(names.back() == "head.bias");
  // Conv2d(1 -> 8, k3): bound 1/sqrt(1*9). up.1.upconv is ConvTranspose2d(32 -> 16, k4): PyTorch's fan_in
  // is weight.size(1) * 16 = 16 * 16, bound 1/16 (fan_in from its 32 inputs would give 1/sqrt(512)).
  auto check_bound = [&](const std::string& name, double bound) {
    for (auto& [n, t] : named)
      if (n == name) {
        auto v = t->to_vector();
        double m = tint::testing::max_abs(v);
        CHECK(m <= bound);
        CHECK(m > 0.8 * bound);  // uniform draws come close to the bound
        return;
      }
    FAIL("no parameter " << name);
  };
  check_bound("down.0.conv1.weight", 1.0 / 3.0);
  check_bound("up.1.upconv.weight", 1.0 / 16.0);
}

TEST_CASE("Adam and AdamW match three steps computed by hand", "[engine][optim]") {
  for (bool decoupled : {false, true}) {
    for (Device d : tint::testing::engine_test_devices()) {
      Rng rng(17);
      nn::Sequential net;
      net.add(std::make_shared<nn::Conv2d>(1, 2, 1, 1, 0, rng));  // weight (2,1,1,1), bias (2)
      nn::FlatParameters flat = nn::flatten_parameters(net, d);
      AdamHyper h;
      h.lr = 0.1f, h.beta1 = 0.8f, h.beta2 = 0.9f, h.eps = 1e-3f, h.weight_decay = 0.05f, h.decoupled = decoupled;
      optim::Adam adam(flat, h);
      std::vector<double> p0;
      for (auto& [n, t] : flat.named)
        for (float v : t->to_vector()) p0.push_back(v);
      std::vector<double> p = p0, m(p.size(), 0), v(p.size(), 0);
      const std::vector<std::vector<double>> grads = {{0.5, -1.0, 2.0, 0.0}, {-0.25, 0.75, 1.0, -3.0}, {1.0, 1.0, -0.5, 0.125}};
      for (int step = 1; step <= 3; ++step) {
        // Write this step's gradients into the parameters' gradient views.
        size_t k = 0;
        for (auto& [n, t] : flat.named) {
          std::vector<float> g;
          for (int64_t i = 0; i < t->numel(); ++i) g.push_back(float(grads[size_t(step - 1)][k++]));
          t->grad().copy_(Tensor::from_vector(g, t->shape()));
        }
        adam.step();
        for (size_t i = 0; i < p.size(); ++i) {
          double g = grads[size_t(step - 1)][i];
          if (decoupled)
            p[i] *= 1 - h.lr * h.weight_decay;
          else
            g += h.weight_decay * p[i];
          m[i] = h.beta1 * m[i] + (1 - h.beta1) * g;
          v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g;
          double mhat = m[i] / (1 - std::pow(double(h.beta1), step)), vhat = v[i] / (1 - std::pow(double(h.beta2), step));
          p[i] -= h.lr * mhat / (std::sqrt(vhat) + h.eps);
        }
      }
      CHECK(adam.hyper.step == 3);
      size_t k = 0;
      for (auto& [n, t] : flat.named)
        for (float got : t->to_vector()) {
          INFO(n << " " << d.str() << (decoupled ? " AdamW" : " Adam"));
          CHECK(got == Approx(p[k]).margin(1e-5));
          CHECK(std::fabs(got - p0[k]) > 1e-3);  // it moved
          ++k;
        }
    }
  }
}

TEST_CASE("a short training run lowers the loss and reaches a steady state with no new allocations",
          "[engine][train]") {
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(18);
    models::UNet unet({4, 2}, rng);
    nn::FlatParameters flat = nn::flatten_parameters(unet, d);
    AdamHyper h;
    h.lr = 3e-3f;
    optim::Adam adam(flat, h);
    Tensor L = Tensor::uniform({2, 1, 8, 8}, -1, 1, rng, d);
    // A target the net can learn: a smooth function of L in two channels.
    std::vector<float> lv = L.to_vector(), tv;
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 2; ++c)
        for (int i = 0; i < 64; ++i) tv.push_back(0.5f * (c == 0 ? lv[size_t(n * 64 + i)] : -lv[size_t(n * 64 + i)]));
    Tensor target = Tensor::from_vector(tv, {2, 2, 8, 8}, d);
    float first = 0, last = 0;
    uint64_t allocs_after_warmup = 0;
    for (int step = 0; step < 30; ++step) {
      adam.zero_grad();
      Tensor loss = ops::mse_loss(unet(L), target);
      loss.backward();
      adam.step();
      float value = loss.item();
      REQUIRE(std::isfinite(value));
      if (step == 0) first = value;
      last = value;
      if (step == 2) allocs_after_warmup = runtime(d).allocator.stats().backend_allocs;
    }
    INFO(d.str() << ": loss " << first << " -> " << last);
    CHECK(last < 0.5f * first);
    CHECK(runtime(d).allocator.stats().backend_allocs == allocs_after_warmup);
  }
}

// FlatParameters::zero_grad only marks the gradients pending zero; the convolutions' backward then writes
// the first contribution in place (claim_leaf_gradient), later ones add, and finish_grads zeroes the
// unreached. Each case against the eager path: gradients filled with 0, every contribution added.
TEST_CASE("pending-zero gradients: written in place, summed when reused, zeroed when unreached",
          "[engine][autograd]") {
  for (Device d : tint::testing::engine_test_devices()) {
    INFO(d.str());
    Rng rng(31);
    nn::Sequential net;
    auto c1 = std::make_shared<nn::Conv2d>(2, 3, 3, 1, 1, rng);
    auto c2 = std::make_shared<nn::Conv2d>(3, 3, 3, 1, 1, rng);
    net.add(c1).add(c2);
    nn::FlatParameters flat = nn::flatten_parameters(net, d);
    const Tensor x = Tensor::uniform({2, 2, 5, 6}, -1, 1, rng, d);
    auto loss_of = [&](int graph) {
      if (graph == 0) return ops::sum(ops::tanh((*c2)((*c1)(x))));
      if (graph == 1) return ops::sum(ops::tanh((*c1)(x)));      // c2 unreached
      if (graph == 2) return ops::sum(ops::tanh((*c2)((*c2)((*c1)(x)))));  // c2 used twice
      // c1's weight also read by two ops that are not convolutions (their gradients reach it through the
      // leaf accumulation rather than in place)
      return ops::add(ops::sum(ops::tanh((*c2)((*c1)(x)))),
                      ops::add(ops::sum(*c1->weight), ops::sum(ops::scale(*c1->weight, 3.0f))));
    };
    auto eager = [&](int graph, int passes) {
      flat.grads.fill_(0.f);
      for (int i = 0; i < passes; ++i) loss_of(graph).backward();
      return flat.grads.to_vector();
    };
    auto pending = [&](int graph, int passes) {
      flat.grads.fill_(0.f);
      loss_of(0).backward();  // stale gradients in every parameter, which must not survive
      flat.zero_grad();
      for (int i = 0; i < passes; ++i) loss_of(graph).backward();
      flat.finish_grads();
      return flat.grads.to_vector();
    };
    for (auto [graph, passes] : {std::pair{0, 1}, {0, 2}, {1, 1}, {2, 1}, {2, 2}, {3, 1}, {3, 2}}) {
      INFO("graph " << graph << ", " << passes << " backward passes");
      const std::vector<float> want = eager(graph, passes), got = pending(graph, passes);
      REQUIRE(got.size() == want.size());
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, double(std::abs(got[i] - want[i])));
      CHECK(worst < 1e-6);
      if (graph == 1) CHECK(tint::testing::max_abs(std::vector<float>(got.end() - 40, got.end())) == 0.0);
    }
  }
}
