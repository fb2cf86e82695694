import numpy as np
import pytest

from microinit import data

GENERATORS = [data.moons, data.circles, data.spirals, data.xor, data.blobs, data.checkerboard]


@pytest.mark.parametrize("gen", GENERATORS, ids=lambda g: g.__name__)
@pytest.mark.parametrize("n", [0, 1, 7, 200])
def test_generator_shapes_dtypes_and_balance(gen, n):
    X, y = gen(n, rng=0)
    assert X.shape == (n, 2) and X.dtype == np.float32 and X.flags.c_contiguous
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.isfinite(X).all()
    if n:
        counts = np.bincount(y)
        # balanced classes except xor/checkerboard, whose labels come from the geometry
        if gen not in (data.xor, data.checkerboard):
            assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("gen", GENERATORS, ids=lambda g: g.__name__)
def test_generator_is_reproducible_and_seed_sensitive(gen):
    X1, y1 = gen(50, rng=3)
    X2, y2 = gen(50, rng=np.random.default_rng(3))
    X3, _ = gen(50, rng=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_spirals_classes_and_geometry():
    X, y = data.spirals(3000, noise=0.0, n_classes=5, rng=0)
    assert sorted(np.unique(y)) == [0, 1, 2, 3, 4]
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() >= 0.15 - 1e-6 and r.max() <= 1.0 + 1e-6
    # noise-free arm k is a rotation of arm 0 by 2*pi*k/5: radius fixes the angle
    u = (r - 0.15) / 0.85
    angle = np.arctan2(X[:, 0], X[:, 1])
    expect = 2 * np.pi * (u + y / 5)
    diff = np.angle(np.exp(1j * (angle - expect)))
    assert np.abs(diff).max() < 1e-4


def test_moons_noise_free_lies_on_the_two_half_circles():
    X, y = data.moons(400, noise=0.0, rng=1)
    a = X[y == 0].astype(np.float64)
    b = X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(a[:, 0], a[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(1 - b[:, 0], 0.5 - b[:, 1]), 1.0, atol=1e-6)
    assert (a[:, 1] >= -1e-6).all() and (b[:, 1] <= 0.5 + 1e-6).all()


def test_xor_and_checkerboard_labels_follow_geometry():
    X, y = data.xor(500, noise=0.0, rng=2)
    np.testing.assert_array_equal(y, (X[:, 0] > 0) != (X[:, 1] > 0))
    X, y = data.checkerboard(500, noise=0.0, tiles=2, rng=2)
    np.testing.assert_array_equal(y, (X[:, 0] > 0) != (X[:, 1] > 0))


def test_circles_radii():
    X, y = data.circles(200, noise=0.0, factor=0.3, rng=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)


@pytest.mark.parametrize("kwargs, exc", [
    (dict(n=-1), ValueError), (dict(n=2.5), TypeError), (dict(n=True), TypeError),
    (dict(n=10, noise=-0.1), ValueError), (dict(n=10, noise=float("nan")), ValueError),
    (dict(n=10, rng="seed"), TypeError),
])
def test_generator_bad_arguments(kwargs, exc):
    with pytest.raises(exc):
        data.moons(**kwargs)
    with pytest.raises(ValueError, match="n_classes"):
        data.spirals(10, n_classes=0)


def test_train_test_split_partitions_rows():
    X, y = data.blobs(101, rng=0)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_size=0.25, rng=0)
    assert len(Xte) == 26 and len(Xtr) == 75
    both = np.concatenate([Xtr, Xte])
    # every row is used exactly once
    order = np.lexsort(both.T)
    np.testing.assert_array_equal(both[order], X[np.lexsort(X.T)])
    # labels stay attached to their rows
    lookup = {tuple(r): label for r, label in zip(X.tolist(), y.tolist())}
    assert all(lookup[tuple(r)] == label for r, label in zip(Xte.tolist(), yte.tolist()))
    Xtr2, Xte2, _, _ = data.train_test_split(X, y, test_size=10, shuffle=False)
    np.testing.assert_array_equal(Xte2, X[-10:])
    np.testing.assert_array_equal(Xtr2, X[:-10])


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -3, 1000, "half"])
def test_train_test_split_bad_size(bad):
    X, y = data.moons(20, rng=0)
    with pytest.raises(ValueError, match="test_size"):
        data.train_test_split(X, y, test_size=bad)


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"X \(5, 2\) vs y \(4,\)"):
        data.DataLoader(np.zeros((5, 2)), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="different numbers of rows"):
        data.train_test_split(np.zeros((5, 2)), np.zeros(3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_data_refused_with_row_index(bad):
    X, y = data.moons(10, rng=0)
    X[7, 1] = bad
    with pytest.raises(ValueError, match=r"NaN/inf at X\[7, 1\]"):
        data.DataLoader(X, y)
    with pytest.raises(ValueError, match=r"NaN/inf at X\[7, 1\]"):
        data.train_test_split(X, y)
    yf = np.zeros(10)
    yf[3] = bad
    with pytest.raises(ValueError, match=r"NaN/inf at y\[3\]"):
        data.DataLoader(np.zeros((10, 2)), yf)


def test_dataloader_bad_arguments():
    X, y = data.moons(10, rng=0)
    with pytest.raises(ValueError, match="batch_size"):
        data.DataLoader(X, y, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        data.DataLoader(X, y, batch_size=2.0)
    with pytest.raises(TypeError, match="dtype"):
        data.DataLoader(X.astype(np.complex64), y)
    with pytest.raises(TypeError, match="y has unsupported dtype"):
        data.DataLoader(X, np.array(["a"] * 10))


def test_dataloader_covers_each_row_once_per_epoch_and_reshuffles():
    X = np.arange(23, dtype=np.float32).reshape(23, 1)
    y = np.arange(23)
    loader = data.DataLoader(X, y, batch_size=5, shuffle=True, rng=0)
    assert len(loader) == 5
    epochs = []
    for _ in range(2):
        batches = list(loader)
        assert [len(b[0]) for b in batches] == [5, 5, 5, 5, 3]
        xs = np.concatenate([b[0][:, 0] for b in batches])
        ys = np.concatenate([b[1] for b in batches])
        np.testing.assert_array_equal(xs, ys)  # rows and labels stay paired
        assert sorted(ys.tolist()) == list(range(23))
        epochs.append(ys)
    assert not np.array_equal(epochs[0], epochs[1])


def test_dataloader_sequential_and_drop_last():
    X = np.arange(10, dtype=np.float64).reshape(5, 2)
    loader = data.DataLoader(X, None, batch_size=2, shuffle=False, drop_last=True)
    assert len(loader) == 2
    batches = list(loader)
    assert len(batches) == 2 and batches[0][1] is None
    np.testing.assert_array_equal(batches[1][0], X[2:4])
    assert batches[0][0].dtype == np.float64
    assert "batch_size=2" in repr(loader)


def test_dataloader_empty_and_int_inputs():
    loader = data.DataLoader(np.zeros((0, 3)), np.zeros(0, np.int64), batch_size=4)
    assert len(loader) == 0 and list(loader) == []
    loader = data.DataLoader([[1, 2], [3, 4]], [0, 1], batch_size=4)
    (xb, yb), = list(loader)
    assert xb.dtype == np.float32  # int lists cast to the default float


@pytest.mark.parametrize("dtype", [">f4", ">f8"])
def test_big_endian_data_is_read_by_value_into_native_order(dtype):
    X = np.arange(12, dtype=np.float64).reshape(6, 2)
    loader = data.DataLoader(X.astype(dtype), np.arange(6), batch_size=6, shuffle=False)
    assert loader.X.dtype.isnative and loader.X.dtype.itemsize == np.dtype(dtype).itemsize
    np.testing.assert_array_equal(next(iter(loader))[0], X)


def test_float16_data_is_upcast_to_float32():
    """The boundary's rule (ops/_boundary.py): float16 becomes float32."""
    loader = data.DataLoader(np.ones((3, 2), np.float16), np.zeros(3, np.int64), batch_size=3)
    assert loader.X.dtype == np.float32 and next(iter(loader))[0].tolist() == [[1.0, 1.0]] * 3


@pytest.mark.parametrize("bad", [np.zeros((3, 2), complex),
                                 np.array([["a", "b"]] * 3), None, "X"])
def test_unsupported_x_is_a_type_error_naming_the_op(bad):
    with pytest.raises(TypeError, match="DataLoader: X"):
        data.DataLoader(bad, np.zeros(3, np.int64))


def test_a_loader_without_rng_shuffles_from_the_seeded_default_generator():
    import microinit as mi

    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    loader = data.DataLoader(X, batch_size=4)  # built before the seed: the seed still applies
    mi.manual_seed(3)
    first = [xb.tolist() for xb, _ in loader]
    mi.manual_seed(3)
    assert [xb.tolist() for xb, _ in loader] == first
    assert [xb.tolist() for xb, _ in loader] != first  # the next epoch reshuffles
