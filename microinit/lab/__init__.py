"""The init lab: experiments that show, with numbers and figures, what initialization does.

Each experiment is a function returning a ``Table`` (``microinit.diagnostics``) that
prints, converts (``to_dict``/``to_records``) and draws its figure (``plot(path)``,
with the ``plot`` extra). From the command line: ``microinit initlab <experiment>``.

=================  =========================================================================
``symmetry``       zero/constant init: hidden units stay clones (symmetry 1.0) and the
                   network is no better than a linear model; random init breaks the symmetry
``depth``          activation and gradient std per layer of deep tanh and ReLU MLPs under
                   normal(0.01), normal(1.0), Xavier, He, LeCun and orthogonal init
``deep_relu``      a 30-layer ReLU MLP trained with Xavier and with He: He trains, Xavier
                   stalls (3 seeds, a verdict only where 80% of them agree)
``lsuv``           LSUV vs He vs orthogonal: variance per layer and the first epochs' loss
``edge_of_chaos``  mean-field theory (``microinit.theory``) beside the measurement: correlation
                   depth xi_c on a sigma_w2 x sigma_b2 grid, and trainability up to ~6 xi_c
``custom``         any initializer(s) x activation x depth x width from the command line
=================  =========================================================================

``microinit initlab --html report.html`` runs them all into one self-contained page with
an init explorer (``report``, ``explorer``, ``report_page``).

>>> from microinit import lab
>>> table = lab.depth(depth=10, width=32, batch=64, activations=["relu"], inits=["normal(std=0.01)", "he_normal"])
>>> [(row["init"], row["reading"]) for row in table.rows]
[('normal(std=0.01)', 'activations vanish, gradients vanish'), ('he_normal', 'activations steady, gradients steady')]

``print(table)`` shows every column; ``table.plot("depth.png")`` writes the figure.
Readings in the tables are computed from the measured numbers (``microinit.lab.summary``).

The package's modules: ``experiments`` (the experiments), ``chaos`` (``edge_of_chaos``),
``report``/``report_page``/``explorer`` (the HTML report and its explorer's grid), ``runs`` (the probe
batch, deep MLP and quiet training run they are built from), ``summary`` (the numbers
and readings of a table row), ``specs`` (the initializer-spec parser, shared with
``microinit demo``), ``figures`` (one drawing per experiment) and ``cli``
(``microinit initlab``).
"""
from microinit.lab.cli import add_arguments, run
from microinit.lab.experiments import (DEPTH_INITS, EXPERIMENTS, SYMMETRY_INITS, custom, deep_relu, depth,
                                       edge_of_chaos, lsuv, symmetry)
from microinit.lab.specs import as_specs, parse_init, spec_label
from microinit.lab.summary import summarize

__all__ = ["symmetry", "depth", "deep_relu", "lsuv", "edge_of_chaos", "custom", "parse_init", "spec_label",
           "as_specs", "summarize", "EXPERIMENTS", "DEPTH_INITS", "SYMMETRY_INITS", "add_arguments", "run"]
