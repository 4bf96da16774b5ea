"""tensorquant.torch: the C kernels' bits through autograd, the STE
gradients, and apply_map with the library's matching rules."""
import numpy as np
import pytest

import tensorquant as tq
from conftest import same_bits, sample_array

torch = pytest.importorskip("torch")
tqt = pytest.importorskip("tensorquant.torch")


def test_quantize_forward_and_ste():
    x = torch.from_numpy(sample_array(1000)[16:].copy()).requires_grad_()
    for spec in ("nearest,8,4", "stochastic,8,4", "fp8e4m3", "ternary"):
        y = tqt.quantize(x, spec, seed=3, stream=2)
        assert same_bits(y.detach().numpy(), tq.quantize(x.detach().numpy(), spec,
                                                         seed=3, stream=2))
    y = tqt.quantize(x, "nearest,8,4")
    (y * 2).sum().backward()
    assert torch.equal(x.grad, torch.full_like(x, 2.0))  # identity STE
    x.grad = None
    y = tqt.quantize(x, "nearest,8,4,ste=clipped")
    y.sum().backward()
    lo, hi = tq.Quantizer("nearest,8,4").range
    inside = (x.detach() >= lo) & (x.detach() <= hi)
    assert torch.equal(x.grad, inside.float())
    # non-contiguous tensors work; other dtypes and devices are refused
    m = torch.from_numpy(sample_array(64)[16:].reshape(6, 8).copy())
    assert same_bits(tqt.quantize(m.t(), "nearest,6,3").numpy(),
                     tq.quantize(np.ascontiguousarray(m.t().numpy()), "nearest,6,3"))
    with pytest.raises(TypeError, match="float32"):
        tqt.quantize(m.double(), "nearest,8,4")
    with pytest.raises(ValueError, match="nearst"):
        tqt.quantize(m, "nearst,8,4")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.Block = torch.nn.Sequential()
        self.Block.add_module("Conv1", torch.nn.Linear(8, 8))
        self.Block.add_module("Relu1", torch.nn.ReLU())
        self.Dense2 = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.Dense2(self.Block(x))


def test_apply_map_matches_and_quantizes():
    torch.manual_seed(0)
    net = Net()
    w1 = net.Block.Conv1.weight.detach().clone()
    x = torch.randn(5, 8)
    handle = tqt.apply_map(net, {
        "extrinsic": {"re:Relu1$": "nearest,8,4", "Conv1": "nearest,6,3"},
        "weights": {"Dense2.weight": "nearest,4,2"}})
    # first matching entry in file order; weight names match too
    assert sorted(handle.layers) == [("extrinsic", "Block.Conv1", "nearest,6,3"),
                                     ("extrinsic", "Block.Relu1", "nearest,8,4"),
                                     ("weights", "Dense2", "nearest,4,2")]
    y = net(x)
    h = tq.quantize(torch.nn.functional.linear(x, w1, net.Block.Conv1.bias)
                    .detach().numpy(), "nearest,6,3")
    h = tq.quantize(np.maximum(h, 0), "nearest,8,4")
    wq = tq.quantize(net.Dense2.parametrizations.weight.original.detach().numpy(),
                     "nearest,4,2")
    assert torch.equal(net.Dense2.weight, torch.from_numpy(wq))
    want = torch.from_numpy(h) @ torch.from_numpy(wq).t() + net.Dense2.bias
    assert torch.allclose(y, want)
    # gradients reach the float masters
    y.sum().backward()
    assert net.Dense2.parametrizations.weight.original.grad is not None
    handle.remove()
    assert type(net.Dense2.weight) is torch.nn.Parameter
    assert torch.equal(net(x), net.Dense2(torch.relu(net.Block.Conv1(x))))


def test_updates_and_gradients():
    torch.manual_seed(1)
    net = Net()
    handle = tqt.apply_map(net, updates="nearest,10,8", gradients={"Dense2": "nearest,8,4"})
    opt = tqt.QuantizedOptimizer(torch.optim.SGD(net.parameters(), lr=0.1), handle)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(4, 8)).pow(2).sum().backward()
        g = net.Dense2.weight.grad.numpy()
        assert same_bits(g, tq.quantize(g, "nearest,8,4"))
        opt.step()
        for p in net.parameters():
            v = p.detach().numpy()
            assert same_bits(v, tq.quantize(v, "nearest,10,8"))
    assert handle.steps == 3 and opt.param_groups is opt.optimizer.param_groups
    handle.remove()


def test_map_errors():
    net = Net()
    with pytest.raises(ValueError, match="unknown sections"):
        tqt.apply_map(net, {"Conv1": "nearest,8,4"})
    with pytest.raises(ValueError, match="intrinsic"):
        tqt.apply_map(net, {"intrinsic": {"Conv1": "nearest,8,4"}})
    with pytest.raises(ValueError, match="nearst"):
        tqt.apply_map(net, extr={"Conv1": "nearst,8,4"})
    assert tqt.apply_map(net).layers == []
