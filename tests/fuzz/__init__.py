"""The random-program fuzzer: generate well-typed programs, check them, shrink failures.

    program.py    a program as data (args, steps, outputs) and its two Python spellings
    kind.py       the step-kind record; kinds_*.py the kinds by family; kinds.py the table
    refs.py       plain-numpy spellings of what numpy lacks (the reference side)
    gen.py        the seeded generator
    fdiff.py      finite differences that notice kinks instead of reporting them as bugs
    compare.py    tolerances (f64 tight; f32 judged against an f64 twin)
    oracle.py     a `Case` (program + loss + wide twin); checks.py the checks and backend hook
    run.py        running checks under a time limit (backends in a forked child)
    shrink.py     delta debugging of a failing program, and the ready-to-paste reproducer
    runner.py     many programs: settings from the environment, report
    __main__.py   `python -m fuzz` (what `make fuzz N=...` runs); test_fuzz.py the pytest entry

Seeded by GRADJIT_FUZZ_SEED, sized by GRADJIT_FUZZ_N; program i of seed s is always the same.
"""
