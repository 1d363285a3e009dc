"""`gradjit compile` and `gradjit cache`, run for real: shared libraries are called from a C
program built with the system compiler, and must give the Python API's gradients."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import gradjit
from gradjit.aot import C_TYPES
from gradjit.runtime import blas

HERE = os.path.dirname(os.path.abspath(__file__))
PROG = os.path.join(HERE, "cli_progs", "models.py")
sys.path.insert(0, os.path.join(HERE, "cli_progs"))
import models  # noqa: E402

CC = shutil.which("cc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (`cc`) on PATH, so neither the "
                              "shared library nor the C program calling it can be built")

PICK = '''import numpy as np


def pick(x, idx):
    return np.sum(np.sin(x[idx]) * x[idx])
'''


def gradjit_cmd(*words, env=None, check=True):
    proc = subprocess.run([sys.executable, "-m", "gradjit", *words], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def _c_literal(a: np.ndarray) -> str:
    return "{" + ", ".join(repr(v) for v in a.ravel().tolist()) + "}"


def call_from_c(tmp_path, lib: str, name: str, inputs, outputs, use_ws=False):
    """Build and run a C program calling `name` (or name_ws) of lib with `inputs` (numpy
    arrays); (status, status message, output arrays shaped like `outputs`)."""
    lines = ["#include <stdio.h>", "#include <stdlib.h>", f'#include "{lib[:-3]}.h"', ""]
    for k, a in enumerate(inputs):
        lines.append(f"static const {C_TYPES[_dtype(a)]} in{k}[{max(a.size, 1)}] = "
                     f"{_c_literal(a)};")
    for k, (shape, dtype) in enumerate(outputs):
        lines.append(f"static {C_TYPES[dtype]} out{k}[{max(int(np.prod(shape)), 1)}];")
    args = [f"in{k}" for k in range(len(inputs))] + [f"out{k}" for k in range(len(outputs))]
    call = f"{name}_ws({', '.join(args)}, ws)" if use_ws else f"{name}({', '.join(args)})"
    lines += ["int main(void) {",
              f"    void *ws = aligned_alloc(64, {name}_workspace_size() + 64);",
              f"    int32_t status = {call};",
              f'    printf("%d %s\\n", (int)status, {name}_strerror(status));']
    for k, (shape, _) in enumerate(outputs):
        lines.append(f'    for (int i = 0; i < {int(np.prod(shape))}; i++) '
                     f'printf("%.17g\\n", (double)out{k}[i]);')
    lines += ["    free(ws);", "    return 0;", "}", ""]
    src, exe = tmp_path / "main.c", tmp_path / "main"
    src.write_text("\n".join(lines))
    folder = os.path.dirname(lib)
    subprocess.run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror", str(src), f"-I{folder}",
                    lib, f"-Wl,-rpath,{folder}", "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    head, *values = out.splitlines()
    status, message = head.split(" ", 1)
    got, k = [], 0
    for shape, dtype in outputs:
        n = int(np.prod(shape))
        got.append(np.array([float(v) for v in values[k:k + n]]).reshape(shape))
        k += n
    return int(status), message, got


def _dtype(a) -> str:
    return {"float64": "f64", "float32": "f32", "int64": "i64", "int32": "i32"}[str(a.dtype)]


@needs_cc
def test_matmul_gradient_from_c_matches_the_python_api(tmp_path):
    lib = str(tmp_path / "libtanh.so")
    gradjit_cmd("compile", f"{PROG}:tanh_layer", "--args", "x=f64[20,30]", "W=f64[30,10]",
                "--grad", "--argnums", "0,1", "-o", lib)
    header = (tmp_path / "libtanh.h").read_text()
    assert "int32_t grad_tanh_layer(const double *x, const double *W, double *grad_x, " \
           "double *grad_W);" in header
    assert "grad_W  out  double[300]  f64[30,10]" in header
    gemm = blas.find()
    if gemm:  # 20x30x10 is above the BLAS threshold: the library calls numpy's OpenBLAS
        assert gemm["f64"].encode() in open(lib, "rb").read()
    rng = np.random.default_rng(1)
    x, W = rng.standard_normal((20, 30)), rng.standard_normal((30, 10)) * 0.3
    want = gradjit.grad(models.tanh_layer, argnums=(0, 1))(x, W)
    for use_ws in (False, True):
        status, message, got = call_from_c(tmp_path, lib, "grad_tanh_layer", [x, W],
                                           [((20, 30), "f64"), ((30, 10), "f64")], use_ws)
        assert (status, message) == (0, "success")
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-14)


@needs_cc
def test_elementwise_value_and_gradient_from_c(tmp_path):
    lib = str(tmp_path / "libchain.so")
    out = gradjit_cmd("compile", f"{PROG}:chain", "--args", "x=f64[100]", "--value-and-grad",
                      "--name", "chain_vg", "-o", lib)
    assert "int32_t chain_vg(const double *x, double *value, double *grad_x);" in out.stdout
    x = np.random.default_rng(2).standard_normal(100)
    status, _, (value, grad) = call_from_c(tmp_path, lib, "chain_vg", [x],
                                           [((), "f64"), ((100,), "f64")])
    want_value, want_grad = gradjit.value_and_grad(models.chain)(x)
    assert status == 0
    np.testing.assert_allclose(value, want_value, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-14)


@needs_cc
def test_index_errors_are_statuses_named_in_the_header(tmp_path):
    (tmp_path / "pick.py").write_text(PICK)
    pick = {}
    exec(PICK, pick)

    lib = str(tmp_path / "libpick.so")
    gradjit_cmd("compile", f"{tmp_path / 'pick.py'}:pick", "--args", "x=f64[5]", "idx=i64[3]",
                "--grad", "-o", lib)
    header = (tmp_path / "libpick.h").read_text()
    x = np.linspace(-1.0, 1.0, 5)
    status, _, (grad,) = call_from_c(tmp_path, lib, "grad_pick", [x, np.array([0, 4, 4])],
                                     [((5,), "f64")])
    assert status == 0
    np.testing.assert_allclose(grad, gradjit.grad(pick["pick"])(x, np.array([0, 4, 4])),
                               rtol=1e-12)
    status, message, _ = call_from_c(tmp_path, lib, "grad_pick", [x, np.array([0, 7, 1])],
                                     [((5,), "f64")])
    assert status > 0 and "out of bounds" in message
    assert f" *    {status}  {message}" in header  # the status is documented in the header


@pytest.mark.parametrize("emit, check", [
    ("obj", lambda data, name: data.startswith(b"\x7fELF") and name.encode() in data),
    ("asm", lambda data, name: f"{name}:".encode() in data),
    ("llvm", lambda data, name: re.search(rf"define [^\n]*i32 @{name}\(".encode(), data)),
])
def test_emit_other_artifacts(tmp_path, emit, check):
    out = tmp_path / f"chain.{emit}"
    gradjit_cmd("compile", f"{PROG}:chain", "--args", "x=f64[16]", "--grad", "--emit", emit,
                "-o", str(out))
    assert check(out.read_bytes(), "grad_chain")
    assert (tmp_path / "chain.h").exists() == (emit == "obj")


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="--cpu x86-64-v3 names an x86-64 level; this is not an x86-64 host")
def test_portable_build_uses_no_avx512(tmp_path):
    # (tanh's loop vectorizes; chain's sin/cos loop stays scalar: see codegen/vmath.py)
    out = tmp_path / "tanh_layer.s"
    gradjit_cmd("compile", f"{PROG}:tanh_layer", "--args", "x=f64[64]", "W=f64[64,64]",
                "--grad", "--emit", "asm", "--cpu", "x86-64-v3", "-o", str(out))
    asm = out.read_text()
    assert "ymm" in asm and "zmm" not in asm  # AVX2 vectors, none of AVX-512's


def test_cache_path_info_clear(tmp_path):
    env = {"GRADJIT_CACHE_DIR": str(tmp_path / "cache")}
    assert gradjit_cmd("cache", "path", env=env).stdout.strip() == env["GRADJIT_CACHE_DIR"]
    assert "entries:  0" in gradjit_cmd("cache", "info", env=env).stdout
    gradjit_cmd("run", f"{PROG}:chain", "--args", "x=ones(4)", "--grad", "--backend", "llvm",
                env=env)
    (tmp_path / "cache" / "README.keep").write_text("not an entry")
    info = gradjit_cmd("cache", "info", env=env).stdout
    n = int(info.split("entries:")[1].split()[0])
    size = int(info.split("(")[1].split()[0])
    files = [p for p in (tmp_path / "cache").rglob("*.o")]
    assert n == len(files) >= 1 and size == sum(p.stat().st_size for p in files)
    assert f"removed {n} entries" in gradjit_cmd("cache", "clear", env=env).stdout
    assert "entries:  0" in gradjit_cmd("cache", "info", env=env).stdout
    assert (tmp_path / "cache" / "README.keep").exists()  # clear deletes entries only


@pytest.mark.parametrize("words, status, message", [
    (["nope.py:f", "--args", "x=f64[3]", "-o", "libf.so"], 1, "compile: no such file: nope.py"),
    ([f"{PROG}:missing", "--args", "x=f64[3]", "-o", "libf.so"], 1, "no function 'missing'"),
    ([f"{PROG}:chain", "--args", "x=f64[3:", "-o", "libf.so"], 1, "compile: --args: cannot"),
    ([f"{PROG}:chain", "--args", "x=f64[3]", "--grad"], 2, "-o/--output"),
    ([f"{PROG}:chain", "--args", "x=f64[3]", "--name", "1f", "-o", "libf.so"], 1,
     "not a C identifier"),
    ([f"{PROG}:integer_out", "--args", "x=f64[3]", "--grad", "-o", "libf.so"], 1,
     "grad: the output must be a float scalar"),
    (["CC=/no/such/cc", f"{PROG}:chain", "--args", "x=f64[3]", "--grad", "-o", "libf.so"], 1,
     "compile: no C compiler found to link the shared library (looked for $CC=/no/such/cc)"),
])
def test_bad_input_gives_a_message_and_status(tmp_path, words, status, message):
    env = None
    if words[0].startswith("CC="):  # a compiler that does not exist
        env, words = dict(os.environ, CC=words[0][3:]), words[1:]
    proc = subprocess.run([sys.executable, "-m", "gradjit", "compile", *words], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == status, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "libf.so").exists()
