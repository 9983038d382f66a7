"""Tests for ntklib.utils: device choice, generators and the validation helpers."""

import numpy as np
import pytest
import torch

from ntklib import utils


def test_default_dtype_is_float64():
    assert utils.DEFAULT_DTYPE is torch.float64


def test_pick_device_default_and_cpu():
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert utils.pick_device().type == want
    assert utils.pick_device("cpu") == torch.device("cpu")
    assert utils.pick_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_pick_device_cuda_without_cuda_names_the_fix():
    with pytest.raises(ValueError, match="CUDA is not available.*device='cpu'"):
        utils.pick_device("cuda")


@pytest.mark.parametrize(
    "bad, err", [("tpu", ValueError), ("nonsense", ValueError), (3, TypeError)]
)
def test_pick_device_rejects_bad_values(bad, err):
    with pytest.raises(err):
        utils.pick_device(bad)


def test_make_generator_is_private_and_reproducible():
    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    a = torch.randn(5, generator=utils.make_generator(7))
    b = torch.randn(5, generator=utils.make_generator(7))
    c = torch.randn(5, generator=utils.make_generator(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(before, torch.random.get_rng_state())  # global RNG untouched


@pytest.mark.parametrize("seed, err", [(-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_make_generator_bad_seed(seed, err):
    with pytest.raises(err, match="seed"):
        utils.make_generator(seed)


def test_check_int():
    assert utils.check_int(3, "width", minimum=1) == 3
    assert utils.check_int(np.int64(4), "width", minimum=1) == 4
    with pytest.raises(ValueError, match=r"width must be an integer >= 1, got 0: pass width="):
        utils.check_int(0, "width", minimum=1)
    with pytest.raises(ValueError, match=r"in \[0, 9\]"):
        utils.check_int(10, "c", minimum=0, maximum=9)
    for bad in (2.0, "3", True, None):
        with pytest.raises(TypeError, match="width"):
            utils.check_int(bad, "width")


def test_check_positive():
    assert utils.check_positive(0.5, "lr") == 0.5
    assert utils.check_positive(torch.tensor(2.0), "lr") == 2.0
    assert utils.check_positive(0, "noise", strict=False) == 0.0
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="lr must be finite and > 0"):
            utils.check_positive(bad, "lr")
    with pytest.raises(TypeError):
        utils.check_positive("1", "lr")


def test_check_choice():
    assert utils.check_choice("ntk", "parameterization", ("azls", "ntk")) == "ntk"
    with pytest.raises(ValueError, match="unknown parameterization 'NTK'.*'azls', 'ntk'"):
        utils.check_choice("NTK", "parameterization", ("azls", "ntk"))
    with pytest.raises(TypeError):
        utils.check_choice(1, "parameterization", ("azls", "ntk"))


def test_check_finite():
    x = torch.ones(3)
    assert utils.check_finite(x, "x") is x
    assert utils.check_finite(torch.arange(3), "i") is not None  # integer tensors pass
    with pytest.raises(ValueError, match="2 non-finite"):
        utils.check_finite(torch.tensor([1.0, float("nan"), float("inf")]), "loss")
    with pytest.raises(TypeError):
        utils.check_finite([1.0], "x")


def test_check_dtype():
    assert utils.check_dtype(torch.float32) is torch.float32
    with pytest.raises(ValueError):
        utils.check_dtype(torch.int64)
    with pytest.raises(TypeError):
        utils.check_dtype("float64")


def test_check_xy():
    X, y = torch.zeros(4, 3), torch.zeros(4)
    assert utils.check_xy(X, y, d_in=3) == (X, y)
    assert utils.check_xy(X, torch.zeros(4, 2))[1].shape == (4, 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        utils.check_xy(np.zeros((4, 3)))
    with pytest.raises(TypeError, match="floating"):
        utils.check_xy(torch.zeros(4, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="2 dimensions"):
        utils.check_xy(torch.zeros(3))
    with pytest.raises(ValueError, match="expects d_in=5"):
        utils.check_xy(X, d_in=5)
    with pytest.raises(ValueError, match="empty"):
        utils.check_xy(torch.zeros(0, 3))
    with pytest.raises(ValueError, match=r"\(n,\) or \(n, d_out\)"):
        utils.check_xy(X, torch.zeros(5))


def test_check_number():
    assert utils.check_number(0.5, "lr", minimum=0.0, strict_min=True) == 0.5
    assert utils.check_number(np.float32(2.0), "lr") == 2.0
    assert utils.check_number(torch.tensor(3.0), "lr") == 3.0
    assert utils.check_number(0.0, "eps", minimum=0.0) == 0.0  # inclusive bound
    assert utils.check_number(3, "k", integer=True, minimum=1) == 3
    for bad, err, match in [
        (0.0, ValueError, r"lr must be finite and > 0.0, got 0.0: pass lr="),
        (float("nan"), ValueError, "lr must be finite"),
        (float("inf"), ValueError, "lr must be finite"),
        ("0.1", TypeError, r"lr must be a real number, got str '0.1': pass lr=<float>"),
        (True, TypeError, "lr must be a real number, got bool"),
        (None, TypeError, "lr must be a real number"),
    ]:
        with pytest.raises(err, match=match):
            utils.check_number(bad, "lr", minimum=0.0, strict_min=True)
    with pytest.raises(ValueError, match=r"eps must be finite and >= 0.0 and <= 1.0"):
        utils.check_number(1.5, "eps", minimum=0.0, maximum=1.0)
    with pytest.raises(TypeError, match="k must be an integer"):
        utils.check_number(2.5, "k", integer=True)


def test_check_tensor_policy():
    x = utils.check_tensor(np.arange(6).reshape(3, 2), "X")  # numpy integers -> float64
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float64 and x.shape == (3, 2)
    f32 = torch.ones(2, 2, dtype=torch.float32, requires_grad=True)
    out = utils.check_tensor(f32, "X")
    assert out.dtype == torch.float32 and not out.requires_grad  # keeps dtype, detached
    assert utils.check_tensor(f32, "X", dtype=torch.float64).dtype == torch.float64
    labels = utils.check_tensor(torch.arange(3), "y", floating=False)
    assert labels.dtype == torch.int64
    assert utils.check_tensor(torch.zeros(0, 2), "X", min_rows=0).shape == (0, 2)
    for bad, err, match in [
        ([[1.0, 2.0]], TypeError, r"X must be a torch.Tensor or numpy array.*torch.as_tensor"),
        (np.array([["a", "b"]]), TypeError, "X must hold numbers"),
        (torch.ones(2, 2, dtype=torch.complex128), TypeError, "X must be real"),
        (torch.ones(3), ValueError, r"X must have 2 dimensions.*reshape"),
        (torch.zeros(0, 2), ValueError, "X has 0 rows.*pass at least 1"),
        (torch.tensor([[1.0, float("nan")]]), ValueError, "X contains NaN or inf"),
    ]:
        with pytest.raises(err, match=match):
            utils.check_tensor(bad, "X", ndim=2)
    inf = torch.tensor([[float("inf")]])
    assert torch.equal(utils.check_tensor(inf, "X", finite=False), inf)


def test_check_memory_refuses_with_sizes_and_fix():
    utils.check_memory(1024, "a small matrix", "use fewer points", max_bytes=2048)
    with pytest.raises(ValueError, match=r"the K matrix needs about 3.0 GiB but the budget is "
                                         r"1.0 GiB \(max_bytes\): use fewer points"):
        utils.check_memory(3 * 1024**3, "the K matrix", "use fewer points", max_bytes=1024**3)
    free = utils.available_memory("cpu")
    assert isinstance(free, int) and free > 0
    with pytest.raises(ValueError, match="25% of the memory available on cpu.*chunks"):
        utils.check_memory(4 * free, "a huge tensor", "compute it in chunks")
