"""A layered left-to-right layout of a DAG: where every box and every edge goes.

The classic three steps (Sugiyama's framework), each kept simple:

1. **Layers by longest path**: a node's layer is one more than its inputs' largest
   (so every edge points right); then, from the output back, each node moves right
   to just before its first user, so an input sits beside the op that reads it
   instead of far to the left.
2. **Dummy nodes** split an edge that spans several layers into one-layer pieces,
   so that the ordering sees it and the drawing routes it between the boxes.
3. **Barycenter ordering**: sweeps left-to-right and right-to-left sort each layer by
   the mean position of its neighbours in the layer before; the order with the fewest
   edge crossings is kept.

Coordinates: each layer is a column as wide as its widest box; boxes are stacked in
their order and each column is centred vertically.

    >>> lay = layered([(), (), (0, 1), (2,)], [(40, 20)] * 4)
    >>> [lay.layers[i] for i in range(4)], len(lay.edges)
    ([0, 0, 1, 2], 3)
    >>> lay.boxes[2].x > lay.boxes[0].x + 40           # the op is right of its inputs
    True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

Point = tuple[float, float]
#: per edge of the graph: (input, node, port, the layered nodes the edge passes through)
Chain = tuple[int, int, int, list[int]]

# How many left/right sweep pairs the ordering tries (more rarely helps on small graphs).
SWEEPS = 6


@dataclass
class Box:
    x: float         # top-left corner
    y: float
    width: float
    height: float

    @property
    def left_mid(self) -> Point:
        return (self.x, self.y + self.height / 2)

    @property
    def right_mid(self) -> Point:
        return (self.x + self.width, self.y + self.height / 2)


@dataclass
class Edge:
    source: int                                   # node positions: source is an input of target
    target: int
    points: list[Point] = field(default_factory=list)    # (x, y) from the source's right side to the target's left
    port: int = 0                                 # which input of the target (0 for a, 1 for b)


@dataclass
class Layout:
    boxes: list[Box]     # Box per node
    edges: list[Edge]    # Edge per (input, node) pair
    layers: list[int]    # layer (column) per node
    width: float
    height: float


def assign_layers(inputs: Sequence[Sequence[int]]) -> list[int]:
    """Layer per node: longest path from the sources, then each node pulled right to
    one before its nearest user. ``inputs[i]`` are the inputs of node ``i``; the nodes
    must be in topological order (inputs first)."""
    n = len(inputs)
    layer = [0] * n
    for i, ins in enumerate(inputs):
        for k in ins:
            if k >= i:
                raise ValueError(f"layout: node {i} has input {k}, which does not come before "
                                 "it (the nodes must be in topological order)")
            layer[i] = max(layer[i], layer[k] + 1)
    users: list[list[int]] = [[] for _ in range(n)]
    for i, ins in enumerate(inputs):
        for k in ins:
            users[k].append(i)
    for i in range(n - 1, -1, -1):
        if users[i]:
            layer[i] = max(layer[i], min(layer[u] for u in users[i]) - 1)
    return layer


def _crossings(order: list[list[int]], down: list[list[int]]) -> int:
    """Edge crossings between consecutive layers: pairs of segments whose ends are
    in opposite order."""
    total = 0
    for col in range(len(order) - 1):
        pos = {v: p for p, v in enumerate(order[col + 1])}
        segs = [(p, pos[w]) for p, v in enumerate(order[col]) for w in down[v]]
        for a in range(len(segs)):
            for b in range(a + 1, len(segs)):
                if (segs[a][0] - segs[b][0]) * (segs[a][1] - segs[b][1]) < 0:
                    total += 1
    return total


def _sweep(order: list[list[int]], neighbours: list[list[int]], columns: list[tuple[int, int]]) -> None:
    for col in columns:
        prev = {v: p for p, v in enumerate(order[col[0]])}
        here = order[col[1]]

        def barycenter(v: int, p: int) -> float:
            near = [prev[w] for w in neighbours[v] if w in prev]
            return sum(near) / len(near) if near else p   # no neighbour: stay put
        keyed = sorted(range(len(here)), key=lambda p: (barycenter(here[p], p), p))
        order[col[1]] = [here[p] for p in keyed]


def layered(inputs: Sequence[Sequence[int]], sizes: Sequence[tuple[float, float]], gap_x: float = 56.0,
            gap_y: float = 16.0, margin: float = 12.0, dummy_height: float = 6.0) -> Layout:
    """The ``Layout`` of a DAG: ``inputs[i]`` the inputs of node ``i`` (topological order),
    ``sizes[i]`` its box's ``(width, height)``."""
    n = len(inputs)
    if len(sizes) != n:
        raise ValueError(f"layout: {n} nodes but {len(sizes)} sizes")
    layer = assign_layers(inputs)
    # the layered graph: real nodes 0..n-1, then dummies; down[v] = next-layer neighbours
    node_layer = list(layer)
    down: list[list[int]] = [[] for _ in range(n)]
    up: list[list[int]] = [[] for _ in range(n)]
    chains: list[Chain] = []                       # per edge: the nodes it passes through
    for i, ins in enumerate(inputs):
        for port, k in enumerate(ins):
            chain = [k]
            for col in range(layer[k] + 1, layer[i]):
                node_layer.append(col)
                down.append([])
                up.append([])
                chain.append(len(node_layer) - 1)
            chain.append(i)
            for a, b in zip(chain, chain[1:]):
                down[a].append(b)
                up[b].append(a)
            chains.append((k, i, port, chain))
    depth = max(node_layer) + 1 if node_layer else 0
    order: list[list[int]] = [[] for _ in range(depth)]
    for v, col in enumerate(node_layer):
        order[col].append(v)
    best, best_cross = [list(c) for c in order], _crossings(order, down)
    for _ in range(SWEEPS):
        if best_cross == 0:
            break
        _sweep(order, up, [(c - 1, c) for c in range(1, depth)])
        _sweep(order, down, [(c + 1, c) for c in range(depth - 2, -1, -1)])
        cross = _crossings(order, down)
        if cross < best_cross:
            best, best_cross = [list(c) for c in order], cross
    return _place(best, node_layer, inputs, sizes, chains, layer, gap_x, gap_y, margin, dummy_height)


def _place(order: list[list[int]], node_layer: list[int], inputs: Sequence[Sequence[int]],
           sizes: Sequence[tuple[float, float]], chains: list[Chain], layer: list[int], gap_x: float, gap_y: float,
           margin: float, dummy_height: float) -> Layout:
    n = len(inputs)
    def size(v: int) -> tuple[float, float]:
        return sizes[v] if v < n else (0.0, dummy_height)

    widths = [max([size(v)[0] for v in col] + [0.0]) for col in order]
    heights = [sum(size(v)[1] for v in col) + gap_y * max(len(col) - 1, 0) for col in order]
    tallest = max(heights + [0.0])
    col_x: list[float] = []
    x = margin
    for w in widths:
        col_x.append(x)
        x += w + gap_x
    centre: dict[int, Point] = {}                   # v -> (x, y) of its box's centre
    placed: list[Box | None] = [None] * n
    for c, col in enumerate(order):
        y = margin + (tallest - heights[c]) / 2
        for v in col:
            w, h = size(v)
            cx = col_x[c] + widths[c] / 2
            centre[v] = (cx, y + h / 2)
            if v < n:
                placed[v] = Box(cx - w / 2, y, float(w), float(h))
            y += h + gap_y
    boxes: list[Box] = placed  # type: ignore[assignment]  # every real node is in a layer: all placed
    edges: list[Edge] = []
    for k, i, port, chain in chains:
        # the inputs of a node enter its left side spread out, in the op's order (a above b)
        target = boxes[i]
        entry = (target.x, target.y + target.height * (port + 1) / (len(inputs[i]) + 1))
        points = [boxes[k].right_mid] + [centre[v] for v in chain[1:-1]] + [entry]
        edges.append(Edge(k, i, points, port))
    width = (x - gap_x + margin) if widths else 2 * margin
    return Layout(boxes, edges, layer, width, tallest + 2 * margin)
