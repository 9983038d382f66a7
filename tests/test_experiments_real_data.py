"""Tests of ntklib.experiments.real_data: the CIFAR-10 loader and run end to end on small random
files in the official python format, the SGD protocol's step size against a brute-force kernel,
and the three architectures on the bundled digits."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from _reference import brute_ntk

import ntklib as nl
from ntklib import experiments as E


def _write_fake_cifar(folder, n_per_file=20, files=2, seed=0):
    """data_batch_k pickles with random uint8 images and labels 0..9 (the official layout)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data, labels = [], []
    for k in range(1, files + 1):
        d = rng.integers(0, 256, size=(n_per_file, 3072), dtype=np.uint8)
        lab = list(rng.integers(0, 10, size=n_per_file))
        with open(folder / f"data_batch_{k}", "wb") as fh:
            pickle.dump({b"data": d, b"labels": lab}, fh, protocol=2)
        data.append(d)
        labels += lab
    return np.concatenate(data), np.asarray(labels)




def test_load_cifar_pair_reads_the_python_batches(tmp_path):
    raw, labels = _write_fake_cifar(tmp_path / "cifar-10-batches-py", seed=1)
    X, y = E.load_cifar_pair(str(tmp_path), 6, classes=(3, 5), seed=0, dtype=torch.float64)
    assert X.shape == (6, 3, 32, 32) and y.shape == (6,)
    np.testing.assert_allclose(X.flatten(1).norm(dim=1).numpy(), 1.0, rtol=1e-12)
    for img, lab in zip(X, y):  # find each image among the raw rows: same pixels, right label
        v = img.flatten().numpy()
        rows = raw.astype(np.float64)
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        k = int(np.argmin(np.abs(rows - v).sum(axis=1)))
        assert np.abs(rows[k] - v).max() < 1e-12
        assert labels[k] in (3, 5) and lab == (1.0 if labels[k] == 5 else -1.0)


def test_cifar_run_end_to_end_on_random_files(tmp_path):
    _write_fake_cifar(tmp_path, n_per_file=30, seed=2)  # batches directly in the folder
    r = E.cifar_run(str(tmp_path), n=8, channels=4, depth=2, epochs=2, batch_size=4)
    assert r["epoch"].tolist() == [0.0, 1.0, 2.0]
    assert np.all(np.isfinite(r["loss"])) and np.all(np.isfinite(r["grad_ratio"]))
    assert r["path_s"].shape == (21,) and r["path_F"][0] == pytest.approx(r["loss"][0], rel=1e-5)
    assert r["path_F"][-1] == pytest.approx(r["loss"][-1], rel=1e-5)
    assert r["floor_0"] >= 0 and r["lr"] > 0 and r["n"] == 8


def test_cifar_loader_refuses_missing_files_and_bad_classes(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        E.load_cifar_pair(str(tmp_path), 4)
    _write_fake_cifar(tmp_path, seed=3)
    with pytest.raises(ValueError, match="two distinct"):
        E.load_cifar_pair(str(tmp_path), 4, classes=(3, 3))
    with pytest.raises(ValueError, match="pass n <="):
        E.load_cifar_pair(str(tmp_path), 1000)
    with pytest.raises(ValueError):
        E.cifar_run(str(tmp_path), n=4, channels=2, depth=1, epochs=1, dtype="float16")


def test_sgd_step_is_one_over_lambda_max_of_a_batch():
    r = E.real_data_run("mlp", 16, 32, epochs=2, batch_size=8, seed=0)
    X, y, sep = E.digits_pair(16, seed=0)
    net = nl.MLP(64, 32, 3, parameterization="azls", trainable="hidden", seed=0)
    lam_batch = float(torch.linalg.eigvalsh(brute_ntk(net, X[:8]))[-1])
    K = brute_ntk(net, X)
    assert r["lr"] == pytest.approx(1.0 / lam_batch, rel=1e-8)
    assert r["floor_0"] == pytest.approx(2 * float(torch.linalg.eigvalsh(K)[0]), rel=1e-6)
    assert r["epoch"].tolist() == [0.0, 1.0, 2.0] and r["steps"] == 4
    assert r["bound"] == pytest.approx(sep * 32 / 16**2)
    assert set(y.tolist()) == {-1.0, 1.0}


@pytest.mark.parametrize("arch,width", [("resnet", 16), ("cnn", 4)])
def test_other_architectures_train(arch, width):
    r = E.real_data_run(arch, 16, width, epochs=3, batch_size=8, seed=1)
    assert r["final_rel_loss"] < 1.0 and np.all(np.isfinite(r["grad_ratio"]))


def test_permuted_labels_change_the_task():
    a = E.real_data_run("mlp", 16, 32, epochs=1, batch_size=8)
    b = E.real_data_run("mlp", 16, 32, epochs=1, batch_size=8, labels="permuted")
    assert a["floor_0"] == pytest.approx(b["floor_0"])  # same images and network
    assert a["loss"][0] != pytest.approx(b["loss"][0])  # different labels


@pytest.mark.gpu
def test_real_data_run_on_cuda_matches_cpu():
    a = E.real_data_run("mlp", 16, 32, epochs=2, batch_size=8, device="cpu")
    b = E.real_data_run("mlp", 16, 32, epochs=2, batch_size=8, device="cuda")
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(arch="rnn"), dict(labels="shuffled"), dict(n=0),
                                    dict(batch_size=100, n=16)])
def test_real_data_run_validates(kwargs):
    with pytest.raises((ValueError, TypeError)):
        E.real_data_run(**kwargs)
