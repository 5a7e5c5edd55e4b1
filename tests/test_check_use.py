"""cnn.check in use: conventions (adapters), the seeds' own code, bad use, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import cnn
import cnn.check
from cnn.check.cli import main

# ----------------------------------------------------------------------------- conventions


def nhwc_conv_backward(dy, x, w, *, stride=1, padding=0):
    """Right, in TensorFlow's layout: x (N, H, W, C), w (KH, KW, C, F)."""
    dx, dw, db = cnn.conv2d_backward(dy.transpose(0, 3, 1, 2), x.transpose(0, 3, 1, 2),
                                     w.transpose(3, 2, 0, 1), stride=stride, padding=padding)
    return dx.transpose(0, 2, 3, 1), dw.transpose(2, 3, 1, 0), db


def true_conv_backward(dy, x, w, *, stride=1, padding=0):
    """Right for y = x (true convolution) w, i.e. a correlation with rot180(w)."""
    dx, dw, db = cnn.conv2d_backward(dy, x, w[..., ::-1, ::-1], stride=stride, padding=padding)
    return dx, dw[..., ::-1, ::-1].copy(), db


def columns_dense_backward(dy, x, W):
    """Seed 003's layout: features x batch, z = W x + b, db kept as a column."""
    return W.T @ dy, dy @ x.T, dy.sum(axis=1, keepdims=True)


def summed_softmax_onehot(logits, y):
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return -np.sum(y * np.log(p)), p - y


@pytest.mark.parametrize("function, fn, options", [
    ("conv2d_backward", nhwc_conv_backward, {"layout": "NHWC"}),
    ("conv2d_backward", true_conv_backward, {"convolution": "true"}),
    ("max_pool2d_backward",
     lambda dy, x, **kw: cnn.max_pool2d_backward(dy.transpose(0, 3, 1, 2), x.transpose(0, 3, 1, 2),
                                                 **kw).transpose(0, 2, 3, 1), {"layout": "NHWC"}),
    ("dense_backward", columns_dense_backward, {"layout": "columns"}),
    ("softmax_cross_entropy", summed_softmax_onehot, {"reduction": "sum", "labels": "one-hot"}),
    ("l2_loss", lambda o, t: (0.5 * np.sum((o - t) ** 2), o - t), {"reduction": "sum"}),
])
def test_other_conventions_pass_with_their_option_and_fail_without(function, fn, options):
    assert cnn.check.check(function, fn, **options).ok
    assert not cnn.check.check(function, fn).ok


def test_a_true_convolution_checked_as_a_correlation_is_named():
    report = cnn.check.conv2d_backward(true_conv_backward)
    assert report.diagnosis == "true_convolution_instead_of_cross_correlation"
    report = cnn.check.l2_loss(lambda o, t: (0.5 * np.sum((o - t) ** 2), o - t))
    assert report.diagnosis == "sum_instead_of_mean"


# ----------------------------------------------------------------------------- the seeds


def seed004_first_kernel_gradient(dy, x, w):
    """Seed 004's first code, per image and channel pair, in a true-convolution layer
    (no stride, no padding): grad = convolve2d(x, rot180(delta), 'valid')."""
    from scipy.signal import convolve2d
    N, C = x.shape[:2]
    F = w.shape[0]
    dw = np.zeros_like(w)
    dxp = np.zeros_like(x)
    for n in range(N):
        for f in range(F):
            for c in range(C):
                dw[f, c] += convolve2d(x[n, c], np.rot90(dy[n, f], 2), "valid")
                dxp[n, c] += convolve2d(dy[n, f], np.rot90(w[f, c], 2), "full")  # right
    return dxp, dw, dy.sum(axis=(0, 2, 3))


def test_seed004_first_code_is_kernel_grad_rot180_and_skips_strided_probes():
    report = cnn.check.conv2d_backward(seed004_first_kernel_gradient, convolution="true")
    assert report.diagnosis == "kernel_grad_rot180", str(report)
    assert report.notes and "takes no padding, stride" in report.notes[0]


def test_seed004_toy_variants_by_name():
    def variant(name):
        def gradients(image, label, kernel, weights, *, padding=0):
            return cnn.toy_net.gradients(image, label, kernel, weights, padding=padding,
                                         variant=name)
        return gradients
    assert cnn.check.toy_gradients(variant("seed_original")).diagnosis == "kernel_grad_rot180"
    assert cnn.check.toy_gradients(variant("seed_transposed")).diagnosis == "kernel_grad_transposed"
    assert cnn.check.toy_gradients(variant("seed_rotated")).ok


def test_seed003_column_deltas_are_the_batch_sum():
    """Seed 003: delta_2 = final_fc - y, no 1/N (columns, one-hot)."""
    def seed003(logits, y):
        p = np.exp(logits - logits.max(axis=0))
        p /= p.sum(axis=0)
        return -np.mean(np.sum(y * np.log(p), axis=0)), p - y
    report = cnn.check.softmax_cross_entropy(seed003, layout="columns", labels="one-hot")
    assert report.diagnosis == "mean_missing", str(report)


# ----------------------------------------------------------------------------- bad use


def test_not_callable_and_wrong_signature_raise_type_error_naming_fn():
    with pytest.raises(TypeError, match=r"fn: got int 3, which is not callable"):
        cnn.check.conv2d_backward(3)
    with pytest.raises(TypeError, match=r"fn: .*cannot be called as conv2d_backward\(dy, x, w"):
        cnn.check.conv2d_backward(lambda dy, x: None)
    with pytest.raises(ValueError, match="layout: got 'NWHC'"):
        cnn.check.conv2d_backward(cnn.conv2d_backward, layout="NWHC")
    with pytest.raises(ValueError, match="reduction: not an option of dense_backward"):
        cnn.check.check("dense_backward", cnn.dense_backward, reduction="sum")


def test_a_hang_is_reported_per_probe():
    def hangs(dy, x, w, *, stride=1, padding=0):
        if stride == 2:
            time.sleep(30)                     # a daemon thread: it dies with the tests
        return cnn.conv2d_backward(dy, x, w, stride=stride, padding=padding)
    start = time.perf_counter()
    report = cnn.check.conv2d_backward(hangs, timeout=0.2)
    assert time.perf_counter() - start < 3
    assert not report.ok and "did not return within 0.2 s on probe" in report.message
    assert "stride=2" in report.failed_probe and "diagnosis" not in str(report)


@pytest.mark.parametrize("fn, message", [
    (lambda dy, x, w, **kw: 1 / 0, "raised ZeroDivisionError: division by zero on probe"),
    (lambda dy, x, w, **kw: cnn.conv2d_backward(dy, x, w, **kw)[:2], "a tuple of 2; expected a tuple of 3"),
    (lambda dy, x, w, **kw: [a.astype(np.float32) for a in cnn.conv2d_backward(dy, x, w, **kw)],
     "dx with dtype float32; expected float64"),
    (lambda dy, x, w, **kw: (dy, dy, dy), "wrong dx (relative error inf, wrong shape)"),
    (lambda dy, x, w, **kw: (x.fill(0), cnn.conv2d_backward(dy, x, w, **kw))[1],
     "modified its input x"),
    (lambda dy, x, w, **kw: (list(x), x, x), "returned a list as dx; expected a NumPy array"),
])
def test_bad_functions_get_a_clear_report(fn, message):
    report = cnn.check.conv2d_backward(fn)
    assert not report.ok and message in report.message, report.message
    assert "Traceback" not in str(report)


def test_report_to_json_round_trips():
    report = cnn.check.conv2d_backward(lambda dy, x, w, **kw: (dy, dy, dy))
    data = json.loads(report.to_json())
    assert data["ok"] is False and data["worst_error"] is None and data["function"] == "conv2d_backward"


# ----------------------------------------------------------------------------- the CLI

BUGGY_MODULE = textwrap.dedent("""
    import cnn

    def rot(dy, x, w, *, stride=1, padding=0):
        dx, dw, db = cnn.conv2d_backward(dy, x, w, stride=stride, padding=padding)
        return dx, dw[..., ::-1, ::-1].copy(), db

    right = cnn.conv2d_backward
    not_a_function = 3
""")


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "mybackprop.py").write_text(BUGGY_MODULE)
    (tmp_path / "broken.py").write_text("raise RuntimeError('oops')\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("argv, status, out", [
    (["conv2d_backward", "mybackprop:right"], 0, "conv2d_backward: right"),
    (["conv2d_backward", "mybackprop:rot"], 1, "diagnosis: kernel_grad_rot180"),
    (["conv2d_backward", "mybackprop.py:rot"], 1, "read: layers/conv2d.md#"),
    (["relu_derivative", "cnn.activations:relu.derivative"], 0, "right"),
])
def test_cli_exit_status_and_report(user_dir, capsys, argv, status, out):
    assert main(argv) == status
    assert out in capsys.readouterr().out


@pytest.mark.parametrize("argv, err", [
    (["conv2d_backward", "mybackprop:not_a_function"], "which is not callable"),
    (["conv2d_backward", "mybackprop:missing"], "mybackprop has no 'missing'"),
    (["conv2d_backward", "nosuchmodule:f"], "no module named 'nosuchmodule'"),
    (["conv2d_backward", "broken:f"], "importing broken raised RuntimeError: oops"),
    (["conv2d_backward", "no_colon"], "expected MODULE:NAME"),
    (["conv2d_backward", "mybackprop:rot", "--reduction", "sum"], "not an option of conv2d_backward"),
    (["conv_backward", "mybackprop:rot"], "invalid choice"),
])
def test_cli_usage_errors_exit_2_with_one_line(user_dir, capsys, argv, err):
    assert main(argv) == 2
    stderr = capsys.readouterr().err
    assert err in stderr and "Traceback" not in stderr


def test_cli_json_and_the_cnn_command_under_5_seconds(user_dir):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cnn", "check", "conv2d_backward",
                           "mybackprop:rot", "--json"], capture_output=True, text=True,
                          cwd=user_dir, timeout=60, check=False)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["diagnosis"] == "kernel_grad_rot180" and data["ok"] is False
    assert elapsed < 5
