"""microinit's benchmarks. They live in the repository, not in the installed package.

``microinit bench`` (after ``pip install -e .`` from a clone) and ``python
benchmarks/run.py`` run ``benchmarks.runner``; the other modules are what it is made of
(``implementations``, the table of contenders; ``problems`` and ``peers``, their steps;
``timing``, ``suites``, ``report``) and further comparisons run on their
own or through ``--scalar`` / ``--init`` (``bench_scalar``, ``bench_init``,
``bench_optim``, ``crossover``).
"""
