// The op registry itself (engine/op_registry.h): shapes parse to what the ops document, tensors have the
// sizes worked out by hand, costs come out as counted by hand, inputs are seeded and carry their kinks, and
// the comparison catches what the matrix relies on it to catch (a wrong formula, an element left unwritten).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>

#include "engine/error.h"
#include "engine/op_registry.h"

using namespace tint;

TEST_CASE(
    "registry: every contract entry is run by some op, every op has small shapes that parse to themselves") {
  std::set<std::string> names;
  for (const OpDef& op : op_registry()) {
    INFO(op.name);
    CHECK(names.insert(op.name).second);  // one description per op
    CHECK(!op.small.empty());
    CHECK(!op.launches.empty());
    for (const OpDims& d : op.small) {
      CHECK(op.parse(d) == d);
      const auto in = make_op_inputs(op, d, 1);
      const auto specs = op.inputs(d);
      REQUIRE(in.size() == specs.size());
      for (size_t i = 0; i < in.size(); ++i) CHECK(int64_t(in[i].size()) == specs[i].size);
    }
  }
  // The contract's entries, by the op that runs them (split_channels: concat's backward; broadcast_scalar:
  // sum's backward).
  for (const char* op : {"fill", "copy", "add", "scale", "axpy", "relu", "tanh", "sum", "bias_add", "bias_relu",
                         "concat_channels", "l1_loss", "mse_loss", "adam_step", "conv2d", "conv_transpose2d"})
    CHECK(names.count(op) == 1);
  CHECK(names.size() == 16);
}

TEST_CASE("registry: shapes in the square form expand, bad ones are refused naming the op and shape") {
  const OpDef& conv = find_op("conv2d");
  CHECK(conv.parse({2, 3, 9, 7, 4, 3, 2, 1}) == OpDims{2, 3, 9, 7, 4, 3, 3, 2, 2, 1, 1});
  const OpDef& convt = find_op("conv_transpose2d");
  CHECK(convt.parse({1, 4, 3, 5, 2, 4, 2, 1}) == OpDims{1, 4, 3, 5, 2, 4, 4, 2, 2, 1, 1, 0, 0});
  CHECK_THROWS_WITH(conv.parse({1, 2, 3}), Catch::Contains("conv2d: shape '1,2,3' has 3 values"));
  CHECK_THROWS_WITH(conv.parse({1, 1, 2, 2, 1, 5, 1, 0}), Catch::Contains("gives an empty output"));
  CHECK_THROWS_WITH(find_op("relu").parse({0}), Catch::Contains("shape '0' is not N"));
  CHECK_THROWS_WITH(find_op("l1_loss").parse({1, 2, 3, 7}), Catch::Contains("MASK 0 (none)"));
  CHECK_THROWS_WITH(find_op("conv3d"), Catch::Contains("unknown op 'conv3d' (valid: fill, copy, add"));
  CHECK(parse_dims("2,30,7", "--shape") == OpDims{2, 30, 7});
  CHECK_THROWS_WITH(parse_dims("2,,7", "--shape"), Catch::Contains("--shape: '2,,7' is not a list"));
  CHECK_THROWS_WITH(parse_dims("-1", "--shape"), Catch::Contains("is not a list"));
}

TEST_CASE("registry: tensor sizes and costs by hand") {
  // conv_transpose2d 1,4,3,5 -> 2 channels, k4 s2 p1: output (1, 2, 6, 10), weight (4, 2, 4, 4).
  const OpDef& convt = find_op("conv_transpose2d");
  const OpDims t = convt.parse({1, 4, 3, 5, 2, 4, 2, 1});
  const auto in = convt.inputs(t), out = convt.outputs(t), grads = convt.grads(t);
  CHECK(in[0].shape == std::vector<int64_t>{1, 4, 3, 5});
  CHECK(in[1].shape == std::vector<int64_t>{4, 2, 4, 4});
  CHECK(in[2].shape == std::vector<int64_t>{1, 2, 6, 10});
  CHECK(out[0].shape == std::vector<int64_t>{1, 2, 6, 10});
  CHECK(grads[0].shape == std::vector<int64_t>{1, 4, 3, 5});
  CHECK(grads[1].shape == std::vector<int64_t>{4, 2, 4, 4});
  // An output element of the transposed conv sums at most cin_t * kh * kw = 4 * 4 * 4 = 64 terms (a bound:
  // with stride 2 each one sees a quarter of the taps).
  CHECK(out[0].terms == 64);
  CHECK(grads[1].terms == 1 * 3 * 5);  // dw: batch * input pixels of the transposed conv

  // conv2d 2,3,9,7 -> 4, k3 s2 p1: output 5x4; forward FLOPs 2 * (2*4*5*4) * (3*3*3) = 8640.
  const OpDef& conv = find_op("conv2d");
  const OpDims c = conv.parse({2, 3, 9, 7, 4, 3, 2, 1});
  CHECK(conv.launches[0].cost(c).flops == 8640);
  CHECK(conv.launches[0].cost(c).bytes == 4.0 * (2 * 3 * 9 * 7 + 4 * 3 * 3 * 3 + 2 * 4 * 5 * 4));
  CHECK(conv.cost(true, c).flops == 2 * 8640);  // backward: data and weight products
  // The transposed conv's forward: every input element (1*4*3*5) meets cout_t (2) * 4 * 4 weights.
  CHECK(convt.launches[0].cost(t).flops == 2.0 * (1 * 4 * 3 * 5) * 2 * 4 * 4);
  // relu over 1031 floats: 1 op per element forward, x read and y written.
  CHECK(find_op("relu").launches[0].cost({1031}).bytes == 4.0 * 2 * 1031);
  CHECK(find_op("adam_step").cost(false, {100, 0}).bytes == 4.0 * 7 * 100);
}

TEST_CASE("registry: seeded inputs carry relu's zeros, L1's ties and a quarter-zero mask") {
  const OpDef& relu = find_op("relu");
  const auto a = make_op_inputs(relu, {1031}, 7), b = make_op_inputs(relu, {1031}, 7),
             c = make_op_inputs(relu, {1031}, 8);
  CHECK(a == b);
  CHECK(a != c);
  for (size_t k = 1; k < 1031; k += 3) CHECK(a[0][k] == 0.0f);
  CHECK(std::signbit(a[0][4]));  // -0 as well as +0
  const OpDef& l1 = find_op("l1_loss");
  const auto in = make_op_inputs(l1, {8, 2, 64, 1}, 1);  // pred, target, mask, dloss
  REQUIRE(in.size() == 4);
  for (size_t k = 0; k < in[0].size(); k += 3) CHECK(in[0][k] == in[1][k]);
  CHECK(in[0][1] != in[1][1]);
  double zeros = 0;
  for (float m : in[2]) {
    CHECK((m == 0.0f || m == 1.0f));
    zeros += m == 0.0f;
  }
  CHECK(zeros / double(in[2].size()) > 0.15);
  CHECK(zeros / double(in[2].size()) < 0.35);
}

TEST_CASE("registry: the comparison names the worst element and catches unwritten ones") {
  const std::vector<float> ref = {1, -2, 4, 0.5f};
  Comparison c = compare_outputs({1, -2, 4.25f, 0.5f}, ref, false);
  CHECK(c.worst == 2);
  CHECK(c.max_abs == 0.25);
  CHECK(c.error == 0.25 / 4);
  c = compare_outputs({1, std::numeric_limits<float>::quiet_NaN(), 4, 0.5f}, ref, false);
  CHECK(std::isinf(c.error));
  CHECK(c.worst == 1);
  // Per element: a 1e-3 error on a value of 0.5 is 2e-3, not 2.5e-4 of the largest.
  c = compare_outputs({1, -2, 4, 0.501f}, ref, true);
  CHECK(c.error == Approx(2e-3).epsilon(1e-3));
  CHECK(op_tolerance(find_op("relu").outputs({5})[0], "cpu-ref") == 0);
  CHECK(op_tolerance(find_op("sum").outputs({40000})[0], "cuda") == Approx(2e-4));
}

namespace {
// A backend that gets relu's gradient wrong at the kink (dy where x == 0), and one that leaves relu's last
// output unwritten: the registry's run and comparison must both see it.
Backend broken_relu() {
  Backend b = cpu_reference_backend();
  b.relu_backward = [](const Stream&, float* dx, const float* dy, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dx[i] = x[i] >= 0.0f ? dy[i] : 0.0f;
  };
  b.relu_forward = [](const Stream&, float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i + 1 < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
  };
  return b;
}
}  // namespace

TEST_CASE("registry: a wrong kernel fails the comparison the matrix makes") {
  const Backend bad = broken_relu();
  const OpDef& relu = find_op("relu");
  const auto in = make_op_inputs(relu, {64}, 1);
  const auto ref = run_op_case(cpu_reference_backend(), relu, {64}, in);
  const auto got = run_op_case(bad, relu, {64}, in);
  const auto specs = relu.outputs({64});
  const Comparison y = compare_outputs(got[0], ref[0], false);
  CHECK(std::isinf(y.error));  // the NaN poison survived in the unwritten element
  CHECK(y.worst == 63);
  const Comparison dx = compare_outputs(got[1], ref[1], false);
  CHECK(dx.error > op_tolerance(specs[0], "cpu"));
  CHECK(dx.worst % 3 == 1);  // one of the planted zeros
}
