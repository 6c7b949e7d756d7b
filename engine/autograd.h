// Define-by-run reverse-mode autograd.
//
// Every differentiable op that runs while gradients are enabled, on an input that requires a gradient,
// records a Node: the op's inputs (the graph's edges) and what its backward needs (saved tensors, shapes).
// Tensor::backward walks the nodes in reverse topological order; each node turns the gradient of its output
// into gradients of its inputs; a tensor used twice receives the sum. Once a node's backward has run, its
// saved tensors and edges are released, so activations are freed as early as possible and a graph can be
// walked once.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace tint {

struct Node {
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // Gradients of the inputs (in the order of `inputs`) from the gradient of the output. An undefined
  // Tensor means "no gradient for this input". The returned tensors may alias each other or grad_output.
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  // Drops saved tensors. Called once backward has used them.
  virtual void release() {}
  // The tensors kept for backward, by the name the backward formula gives them (for the Graphviz dump).
  virtual std::vector<std::pair<const char*, const Tensor*>> saved() const { return {}; }

  std::vector<Tensor> inputs;  // edges; an input that does not require a gradient is stored undefined
  Shape output_shape;
  Device device;
  bool released = false;
  std::string layer;  // the profiler's scope when the node was made (empty when not profiling)
};

// Gradient recording is on by default; a NoGradGuard turns it off for its scope on this thread
// (inference, evaluation, optimiser updates).
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when an op with these inputs must record a node.
bool needs_grad(std::initializer_list<const Tensor*> inputs);

// Attaches `node` (with its inputs) as the history of `output` and marks output as requiring a gradient.
void record(Tensor& output, std::shared_ptr<Node> node, std::initializer_list<const Tensor*> inputs);

// The reverse walk behind Tensor::backward.
void run_backward(const Tensor& root, const Tensor& grad_root);

// For a node's backward: when `input` is a leaf whose gradient is pending zero (see TensorImpl), returns
// that gradient tensor, to be overwritten with this contribution, and clears the flag; the node then
// returns an undefined gradient for it. Otherwise an undefined Tensor, and the node returns a fresh one as
// usual. It spares the step a fill of every gradient and an add per parameter (axpy): 25.7 M floats each.
Tensor claim_leaf_gradient(const Tensor& input);

// Writes the graph that produced `root` as Graphviz: ops as boxes (with output shapes), leaves as ellipses
// (named parameters by name). `dot -Tsvg graph.dot` renders it.
void write_graphviz(const Tensor& root, const std::string& path);
std::string graphviz(const Tensor& root);

}  // namespace tint
