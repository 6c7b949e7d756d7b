#include "engine/autograd.h"

#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include "engine/error.h"
#include "engine/profiler.h"

namespace tint {

namespace {
thread_local bool t_grad_enabled = true;

// dst = dst + src, as a new tensor: gradients handed to us may alias each other (add's backward returns
// the same tensor for both inputs), so accumulation never writes into one in place.
Tensor sum_of(const Tensor& a, const Tensor& b) {
  TINT_CHECK(a.shape() == b.shape(), "autograd: gradients of shapes {} and {} for one tensor", shape_str(a.shape()),
             shape_str(b.shape()));
  Tensor out = Tensor::empty(a.shape(), a.device());
  auto& rt = runtime(a.device());
  rt.backend.add(rt.stream, out.data(), a.data(), b.data(), a.numel());
  return out;
}
}  // namespace

bool grad_enabled() { return t_grad_enabled; }

Tensor claim_leaf_gradient(const Tensor& input) {
  if (!input.defined() || input.grad_fn() || !input.requires_grad()) return Tensor();
  TensorImpl* impl = input.impl();
  if (!impl->grad_zero_pending || !impl->grad) return Tensor();
  impl->grad_zero_pending = false;
  return Tensor(impl->grad);
}
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void record(Tensor& output, std::shared_ptr<Node> node, std::initializer_list<const Tensor*> inputs) {
  node->inputs.clear();
  for (const Tensor* t : inputs)
    node->inputs.push_back(t && t->defined() && t->requires_grad() ? *t : Tensor());
  node->output_shape = output.shape();
  node->device = output.device();
  if (profiler::active()) node->layer = profiler::current_layer();
  output.set_grad_fn(std::move(node));
  output.impl()->requires_grad = true;
}

// Nodes in an order where every node comes after all nodes that consume its output (iterative DFS, so deep
// graphs cannot overflow the stack). Owning pointers: backward clears each node's edges as it goes, which
// would otherwise free the nodes still to be visited.
static std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> visited;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  visited.insert(root.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      if (in.defined() && in.grad_fn() && !visited.count(in.grad_fn().get())) {
        visited.insert(in.grad_fn().get());
        stack.emplace_back(in.grad_fn(), 0);
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};  // consumers first
}

void run_backward(const Tensor& root, const Tensor& grad_root) {
  TINT_CHECK(root.requires_grad(), "backward: the tensor {} does not require a gradient (no parameter or "
             "input with requires_grad reaches it, or it was computed under NoGradGuard)", root.str());
  Tensor g = grad_root;
  if (!g.defined()) {
    TINT_CHECK(root.numel() == 1, "backward: tensor {} is not a scalar; pass its gradient", root.str());
    g = Tensor::full(root.shape(), 1.0f, root.device());
  }
  TINT_CHECK(g.shape() == root.shape(), "backward: gradient {} for tensor {}", g.str(), root.str());

  NoGradGuard no_grad;  // backward itself records nothing
  auto accumulate_leaf = [](const Tensor& leaf, const Tensor& grad) {
    Tensor existing = leaf.grad();
    if (!existing.defined()) {
      Tensor own = grad.clone();  // `grad` may alias another tensor's gradient
      leaf.impl()->grad = own.impl_ptr();
    } else if (leaf.impl()->grad_zero_pending) {  // the first contribution: a copy, where 0 + g was an add
      leaf.impl()->grad_zero_pending = false;
      existing.copy_(grad);
    } else {
      auto& rt = runtime(existing.device());
      rt.backend.axpy(rt.stream, existing.data(), grad.data(), 1.0f, existing.numel());
    }
  };

  if (!root.grad_fn()) {  // a leaf
    accumulate_leaf(root, g);
    return;
  }
  Node* start = root.grad_fn().get();
  TINT_CHECK(!start->released, "backward: this graph was already walked once (its saved tensors are freed); "
             "run the forward pass again");
  std::unordered_map<Node*, Tensor> grads{{start, g}};
  for (const std::shared_ptr<Node>& owned : topological_order(root.grad_fn())) {
    Node* node = owned.get();
    auto it = grads.find(node);
    if (it == grads.end()) continue;  // no gradient reached it
    Tensor grad_out = it->second;
    grads.erase(it);
    TINT_CHECK(!node->released, "backward: node '{}' was already used by an earlier backward", node->name());
    profiler::BackwardScope scope(node->layer);  // the node's backward and its gradient accumulation
    std::vector<Tensor> in_grads = node->backward(grad_out);
    TINT_CHECK(in_grads.size() == node->inputs.size(), "autograd: node '{}' returned {} gradients for {} inputs",
               node->name(), in_grads.size(), node->inputs.size());
    for (size_t i = 0; i < in_grads.size(); ++i) {
      const Tensor& input = node->inputs[i];
      if (!input.defined() || !in_grads[i].defined()) continue;
      TINT_CHECK(in_grads[i].shape() == input.shape(), "autograd: node '{}' gave gradient {} for input {}",
                 node->name(), shape_str(in_grads[i].shape()), shape_str(input.shape()));
      if (Node* producer = input.grad_fn().get()) {
        auto found = grads.find(producer);
        if (found == grads.end())
          grads.emplace(producer, in_grads[i]);
        else
          found->second = sum_of(found->second, in_grads[i]);
      } else {
        accumulate_leaf(input, in_grads[i]);
      }
    }
    // Free what this node kept alive: saved activations and the edges to its inputs.
    node->release();
    node->inputs.clear();
    node->released = true;
  }
}

std::string graphviz(const Tensor& root) {
  std::string out = "digraph tint {\n  rankdir=BT;\n  node [fontname=\"Helvetica\", fontsize=10];\n";
  std::unordered_map<const void*, std::string> ids;
  auto id_of = [&](const void* p) {
    auto it = ids.find(p);
    if (it != ids.end()) return it->second;
    std::string id = fmt::format("n{}", ids.size());
    ids.emplace(p, id);
    return id;
  };
  if (!root.defined()) return out + "}\n";
  std::vector<std::shared_ptr<Node>> nodes;
  if (root.grad_fn()) nodes = topological_order(root.grad_fn());
  std::unordered_set<const void*> leaves_done;
  for (const std::shared_ptr<Node>& owned : nodes) {
    const Node* node = owned.get();
    std::string saved;
    for (auto& [what, t] : node->saved())
      if (t->defined())
        saved += fmt::format("{}{} {}", saved.empty() ? "\\nsaved: " : ", ", what, shape_str(t->shape()));
    out += fmt::format("  {} [shape=box, style=filled, fillcolor=\"#dde8f7\", label=\"{}\\n{}{}\"];\n",
                       id_of(node), node->name(), shape_str(node->output_shape), saved);
    for (const Tensor& in : node->inputs) {
      if (!in.defined()) continue;
      if (in.grad_fn()) {
        out += fmt::format("  {} -> {};\n", id_of(in.grad_fn().get()), id_of(node));
      } else {
        const void* key = in.impl();
        if (!leaves_done.count(key)) {
          leaves_done.insert(key);
          std::string label = in.name().empty() ? "input" : in.name();
          out += fmt::format("  {} [shape=ellipse, style=filled, fillcolor=\"#f7ecd0\", label=\"{}\\n{}\"];\n",
                             id_of(key), label, shape_str(in.shape()));
        }
        out += fmt::format("  {} -> {};\n", id_of(key), id_of(node));
      }
    }
  }
  if (root.grad_fn())
    out += fmt::format("  output [shape=doublecircle, label=\"output\\n{}\"];\n  {} -> output;\n",
                       shape_str(root.shape()), id_of(root.grad_fn().get()));
  return out + "}\n";
}

void write_graphviz(const Tensor& root, const std::string& path) {
  std::ofstream f(path);
  TINT_CHECK(f.good(), "cannot write Graphviz file '{}'", path);
  f << graphviz(root);
  TINT_CHECK(f.good(), "error writing Graphviz file '{}'", path);
}

}  // namespace tint
