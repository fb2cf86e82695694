"""microinit.viz.layout: longest-path layers, dummy nodes, barycenter ordering, coordinates."""
import pytest

from microinit.viz.layout import assign_layers, layered


def _overlap(a, b):
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def test_layers_point_right_and_inputs_sit_beside_their_user():
    # 0,1 -> 2 -> 3 -> 5, and a leaf 4 used only by 5: pulled right, beside 5
    inputs = [(), (), (0, 1), (2,), (), (3, 4)]
    layers = assign_layers(inputs)
    assert layers == [0, 0, 1, 2, 2, 3]
    for i, ins in enumerate(inputs):
        assert all(layers[k] < layers[i] for k in ins)


def test_nodes_out_of_topological_order_are_refused():
    with pytest.raises(ValueError, match="topological order"):
        assign_layers([(1,), ()])


def test_boxes_do_not_overlap_and_edges_run_left_to_right():
    # a small MLP-like DAG with long edges (0 -> 6 spans three layers)
    inputs = [(), (), (0, 1), (2,), (3, 1), (4,), (5, 0)]
    sizes = [(30 + 10 * i, 20 + 3 * i) for i in range(7)]
    lay = layered(inputs, sizes)
    assert [(b.width, b.height) for b in lay.boxes] == [tuple(map(float, s)) for s in sizes]
    for i in range(7):
        for j in range(i + 1, 7):
            assert not _overlap(lay.boxes[i], lay.boxes[j]), (i, j)
    assert len(lay.edges) == sum(len(i) for i in inputs)
    for e in lay.edges:
        xs = [p[0] for p in e.points]
        assert xs == sorted(xs)
        assert e.points[0] == lay.boxes[e.source].right_mid
        target = lay.boxes[e.target]
        assert e.points[-1][0] == target.x and target.y < e.points[-1][1] < target.y + target.height
    long_edge = [e for e in lay.edges if (e.source, e.target) == (0, 6)][0]
    assert len(long_edge.points) == 2 + (lay.layers[6] - lay.layers[0] - 1)   # through the dummies
    for b in lay.boxes:
        assert 0 <= b.x and b.x + b.width <= lay.width and 0 <= b.y and b.y + b.height <= lay.height


def test_barycenter_ordering_removes_a_crossing():
    # two ops whose inputs are listed crossed: 0 feeds 3, 1 feeds 2; ordered by position the
    # edges would cross, the barycenter sweep puts each op beside its input
    inputs = [(), (), (1,), (0,)]
    lay = layered(inputs, [(20, 20)] * 4)
    above = {i: lay.boxes[i].y for i in range(4)}
    assert (above[0] < above[1]) == (above[3] < above[2])


def test_the_two_inputs_of_an_op_enter_in_order():
    lay = layered([(), (), (1, 0)], [(20, 20)] * 3)
    a, b = sorted(lay.edges, key=lambda e: e.port)
    assert (a.source, b.source) == (1, 0) and a.points[-1][1] < b.points[-1][1]


def test_sizes_must_match():
    with pytest.raises(ValueError, match="2 nodes but 1 sizes"):
        layered([(), (0,)], [(1, 1)])
    empty = layered([], [])
    assert empty.boxes == [] and empty.width > 0
