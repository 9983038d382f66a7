"""Helpers shared by the unit tests."""

import torch


def close(actual, expected, rtol=None, atol=None):
    """assert_close without torch.testing (whose first call imports torch.distributed, ~4 s)."""
    actual, expected = torch.as_tensor(actual), torch.as_tensor(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    single = actual.dtype in (torch.float32, torch.float16, torch.bfloat16)
    rtol = (1.3e-6 if single else 1e-7) if rtol is None else rtol
    atol = (1e-5 if single else 1e-7) if atol is None else atol
    diff = (actual.detach() - expected.detach()).abs()
    ok = diff <= atol + rtol * expected.detach().abs()
    assert bool(ok.all()), f"max |diff| = {diff.max().item():.3g} (rtol={rtol}, atol={atol})"
