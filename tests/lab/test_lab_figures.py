"""Every lab experiment draws its figure (``microinit.lab.figures``)."""
import pytest

from microinit import lab

# Tiny networks: threads only add contention on a shared machine.
pytestmark = pytest.mark.usefixtures("single_thread")


def test_every_experiment_draws_its_figure(tmp_path):
    pytest.importorskip("matplotlib")
    small = {
        "depth": lambda: lab.depth(depth=3, width=8, batch=16),
        "symmetry": lambda: lab.symmetry(width=4, n=60, epochs=2),
        "deep-relu": lambda: lab.deep_relu(depth=3, width=8, n=60, epochs=2),
        "lsuv": lambda: lab.lsuv(depth=3, width=8, n=60, epochs=2),
        "custom": lambda: lab.custom(inits=("he_normal",), depths=(3,), widths=(8,), batch=16),
        "edge-of-chaos": lambda: lab.edge_of_chaos(sigma_w2s=(1.0, 3.0), sigma_b2s=(0.05,), depth=8, width=16,
                                                   seeds=1, train_points=()),
    }
    assert set(small) == set(lab.EXPERIMENTS)
    for name, make in small.items():
        # Rendering is the slow part: render (save) one figure, build the others.
        path = tmp_path / f"{name}.png" if name == "depth" else None
        fig = make().plot(path)
        titled = [ax for ax in fig.get_axes() if ax.get_title()]
        assert titled and all(ax.get_xlabel() and ax.get_ylabel() for ax in titled), name
        if name in ("depth", "custom", "lsuv", "edge-of-chaos"):
            assert any(ax.get_yscale() == "log" for ax in titled), name
        if path is not None:
            assert path.read_bytes()[:4] == b"\x89PNG"
            assert path.stat().st_size < 200_000
