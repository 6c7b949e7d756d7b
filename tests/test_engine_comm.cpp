// What data-parallel training rests on, in one process: a loss given the whole batch's element count gives
// each part of the batch exactly the whole batch's per-element gradient, and the parts' losses add up to
// the whole batch's; the single-process Comm is world 1 and leaves buffers alone. Several processes
// (MPI) are tested end to end in tests/cli/train_distributed.sh.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "engine/comm.h"
#include "engine/ops.h"
#include "engine_test_util.h"

using namespace tint;

TEST_CASE("losses given the whole batch's count: each part's gradient is the whole batch's, bit for bit",
          "[engine][loss][comm]") {
  for (Device d : tint::testing::engine_test_devices()) {
    for (bool l1 : {true, false}) {
      INFO(d.str() << (l1 ? " l1" : " l2"));
      Rng rng(11);
      const Shape s{5, 2, 3, 4};
      const std::vector<float> pv = Tensor::uniform(s, -1, 1, rng).to_vector();
      const std::vector<float> tv = Tensor::uniform(s, -1, 1, rng).to_vector();
      std::vector<float> mv(5 * 12);
      for (size_t i = 0; i < mv.size(); ++i) mv[i] = (i % 5 == 2 || i > 52) ? 0.f : 1.f;  // samples differ
      auto loss = [&](const Tensor& p, const Tensor& t, const Tensor& m, double count) {
        return l1 ? ops::l1_loss(p, t, m, count) : ops::mse_loss(p, t, m, count);
      };

      Tensor whole_p = Tensor::from_vector(pv, s, d);
      whole_p.set_requires_grad(true);
      Tensor whole =
          loss(whole_p, Tensor::from_vector(tv, s, d), Tensor::from_vector(mv, {5, 1, 3, 4}, d), 0);
      whole.backward();
      const std::vector<float> whole_grad = whole_p.grad().to_vector();
      double count = 0;  // 2 channels of every real pixel, counted here by hand
      for (float m : mv) count += 2 * m;

      // Samples [0, 2) and [2, 5), as two ranks (or micro-batches) would take them.
      double sum = 0;
      for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 2}, {2, 5}}) {
        const int64_t n = end - begin, per = 24;
        auto slice = [&](const std::vector<float>& v, int64_t width) {
          return std::vector<float>(v.begin() + begin * width, v.begin() + end * width);
        };
        Tensor p = Tensor::from_vector(slice(pv, per), {n, 2, 3, 4}, d);
        p.set_requires_grad(true);
        Tensor part = loss(p, Tensor::from_vector(slice(tv, per), {n, 2, 3, 4}, d),
                           Tensor::from_vector(slice(mv, 12), {n, 1, 3, 4}, d), count);
        part.backward();
        sum += double(part.item());
        const std::vector<float> g = p.grad().to_vector();
        CHECK(std::memcmp(g.data(), whole_grad.data() + begin * per, g.size() * sizeof(float)) == 0);
      }
      CHECK(sum == Approx(double(whole.item())).epsilon(1e-6));
    }
  }
  CHECK_THROWS_WITH(ops::l1_loss(Tensor::zeros({1, 2, 2, 2}), Tensor::zeros({1, 2, 2, 2}), Tensor(), -1),
                    Catch::Contains("count -1"));
}

TEST_CASE("comm: one process is rank 0 of a world of 1 and its collectives change nothing",
          "[engine][comm]") {
  auto comm = Comm::single();
  CHECK(comm->rank() == 0);
  CHECK(comm->world() == 1);
  CHECK(comm->local_rank() == 0);
  CHECK(comm->kind() == "single");
  Tensor t = Tensor::from_vector({1.5f, -2.f, 3.25f}, {3});
  comm->all_reduce_sum(t, "a test buffer");
  comm->broadcast(t, 0, "a test buffer");
  comm->barrier("a test barrier");
  CHECK(t.to_vector() == std::vector<float>{1.5f, -2.f, 3.25f});
  std::vector<double> v{0.1, 7};
  comm->all_reduce_sum(v, "test values");
  CHECK(v == std::vector<double>{0.1, 7});
}

TEST_CASE("comm: the world size an MPI launcher announces", "[engine][comm]") {
  unsetenv("OMPI_COMM_WORLD_SIZE"), unsetenv("PMI_SIZE"), unsetenv("PMIX_SIZE");
  CHECK(launcher_world_size() == 0);
  setenv("PMI_SIZE", "3", 1);
  CHECK(launcher_world_size() == 3);
  setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  CHECK(launcher_world_size() == 4);
  setenv("OMPI_COMM_WORLD_SIZE", "x", 1);
  CHECK(launcher_world_size() == 3);
  unsetenv("OMPI_COMM_WORLD_SIZE"), unsetenv("PMI_SIZE");
}
