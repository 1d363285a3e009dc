"""The `gradjit` command, run for real in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gradjit

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = os.path.join(HERE, "cli_progs", "models.py")
sys.path.insert(0, os.path.join(HERE, "cli_progs"))
import models  # noqa: E402


def gradjit_cmd(*words, check=True):
    proc = subprocess.run([sys.executable, "-m", "gradjit", *words], capture_output=True,
                          text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_run_gradient_json_matches_the_python_api(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 3))
    np.save(tmp_path / "x.npy", x)
    out = gradjit_cmd("run", f"{PROG}:tanh_layer", "--args", f"x={tmp_path / 'x.npy'}",
                      "W=f64[3,2]:arange", "--grad", "--argnums", "0,1", "--json", "--time")
    data = json.loads(out.stdout)
    W = np.arange(6.0).reshape(3, 2)
    want = gradjit.grad(models.tanh_layer, argnums=(0, 1))(x, W)
    np.testing.assert_allclose(data["grad[0]"], want[0], rtol=1e-12)
    np.testing.assert_allclose(data["grad[1]"], want[1], rtol=1e-12)
    assert set(data["time_s"]) == {"load", "first_call", "steady_call"}


@pytest.mark.parametrize("flag, api", [("--hessian", gradjit.hessian),
                                       ("--value-and-grad", gradjit.value_and_grad)])
def test_run_transforms_and_npz_output(tmp_path, flag, api):
    out_file = tmp_path / "r.npz"
    gradjit_cmd("run", f"{PROG}:chain", "--args", "x=randn(6)", "--seed", "3", flag,
                "--out", str(out_file))
    x = np.random.default_rng(3).standard_normal(6)
    got = np.load(out_file)
    want = [np.asarray(w) for w in gradjit.tracer.pytree.flatten(api(models.chain)(x))[0]]
    assert len(got.files) == len(want)
    for key, w in zip(sorted(got.files), want):
        np.testing.assert_allclose(got[key], w, rtol=1e-12)


def test_run_prints_readably():
    out = gradjit_cmd("run", f"{PROG}:vector_out", "--args", "[0.0, 1.0]", "--jacobian")
    assert out.stdout.startswith("jacobian = [[2.")
    out = gradjit_cmd("run", PROG)  # a plain script runs as `python prog.py` would
    assert "script ran" in out.stdout


def test_dump_python_runs_in_a_fresh_interpreter_and_matches(tmp_path):
    out = gradjit_cmd("dump", f"{PROG}:chain", "--args", "x=f64[5]:arange", "--grad",
                      "--format", "python")
    assert "import gradjit" not in out.stdout
    module = tmp_path / "grad_chain.py"
    module.write_text(out.stdout + "\nimport sys\nimport numpy as np\n"
                      "print(repr(grad_chain(np.arange(5.0))[0].tolist()))\n")
    run = subprocess.run([sys.executable, "-I", str(module)], capture_output=True, text=True,
                         check=True)
    got = np.array(eval(run.stdout))
    np.testing.assert_allclose(got, gradjit.grad(models.chain)(np.arange(5.0)), rtol=1e-13)


def test_dump_stages_and_dot():
    text = gradjit_cmd("dump", f"{PROG}:chain", "--args", "x=ones(4)", "--grad",
                       "--stage", "all").stdout
    assert "// ---- trace ----" in text and "// ---- opt ----" in text
    # the trace computes value and gradient; grad runs without the value
    assert "func @grad_chain(%x: f64[4]) -> (f64[], f64[4])" in text
    assert "func @grad_chain(%x: f64[4]) -> f64[4]" in text
    dot = gradjit_cmd("dump", f"{PROG}:chain", "--args", "x=ones(4)", "--grad",
                      "--stage", "trace", "--format", "dot").stdout
    assert dot.startswith('digraph "grad_chain" {') and dot.rstrip().endswith("}")
    assert "#cfe2ff" in dot and "#ffe0b3" in dot  # primal and adjoint nodes told apart
    nodes = {line.split()[0] for line in dot.splitlines() if "[label=" in line}
    for line in dot.splitlines():
        if "->" in line:
            a, b = line.strip().rstrip(";").split(" -> ")
            assert a in nodes and b in nodes


@pytest.mark.parametrize("words, message", [
    (["run", "nowhere.py:f", "--args", "x=1.0"], "no such file: nowhere.py"),
    (["run", f"{PROG}:missing"], "has no function 'missing'"),
    (["run", f"{PROG}:chain", "--args", "x=randn(3"], "--args: cannot read 'randn(3'"),
    (["run", f"{PROG}:chain", "--args", "y=ones(3)"], "has no parameter 'y'"),
    (["run", f"{PROG}:shape_bug", "--args", "x=ones(3)", "--grad"],
     "add: shapes [3] and [7] do not broadcast"),
    (["run", f"{PROG}:integer_out", "--args", "x=ones(3)", "--grad"],
     "grad: the output must be a float scalar, got i64[]"),
    (["run", f"{PROG}:raises", "--args", "x=1.0"], "RuntimeError: boom from user code"),
])
def test_user_errors_exit_1_with_a_message_and_no_traceback(words, message):
    proc = gradjit_cmd(*words, check=False)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_user_error_names_the_users_line():
    proc = gradjit_cmd("run", f"{PROG}:shape_bug", "--args", "x=ones(3)", check=False)
    assert "at models.py:" in proc.stderr and "x + np.ones(7)" in proc.stderr
    proc = gradjit_cmd("--traceback", "run", f"{PROG}:shape_bug", "--args", "x=ones(3)",
                       check=False)
    assert "Traceback" in proc.stderr


def test_bad_usage_exits_2():
    assert gradjit_cmd("run", check=False).returncode == 2
    assert gradjit_cmd("frobnicate", check=False).returncode == 2
    for sub in ("run", "dump"):
        assert "usage:" in gradjit_cmd(sub, "--help").stdout


@pytest.mark.parametrize("name, words", [
    ("tanh_gauss", ["x=f64[5]"]),
    ("rosenbrock", ["x=f64[4]"]),
])
def test_dump_opt_matches_the_golden_gradient_ir(name, words):
    # the same golden text tests/test_golden.py checks through the Python API
    golden = os.path.join(HERE, "golden", f"{name}.txt")
    prog = os.path.join(HERE, "golden_programs.py")
    out = gradjit_cmd("dump", f"{prog}:{name}", "--args", *words, "--grad", "--stage", "opt")
    with open(golden) as f:
        assert out.stdout == f.read()
