"""Orthogonalization for the orthogonal initializer: CholeskyQR2 with a QR fallback.

Householder QR (what torch.nn.init.orthogonal_ and numpy.linalg.qr run) sweeps the
matrix panel by panel with BLAS-2 work in each panel. CholeskyQR does the same job
with matrix-matrix products only:

    G = A^T A          (one syrk)
    R = chol(G)^T      (a Cholesky of an n x n matrix)
    Q = A R^-1         (a blocked triangular solve: GEMMs on halves, recursively)

Rounding leaves Q^T Q - I of order kappa(A)^2 * eps, so the step is applied twice
(CholeskyQR2, Fukaya et al. 2014); the second pass starts from a nearly orthonormal
matrix and brings the error down to O(eps). Everything runs in float64: a square
Gaussian matrix has kappa ~ n, so kappa^2 * eps64 stays small. If the first Cholesky
fails or leaves Q^T Q far from I, the input was too ill-conditioned and Householder QR
(with the same sign convention) is used instead.
"""
import numpy as np

# Below this size the triangular inverse is formed directly: the recursion's GEMMs
# would be too small to pay for the Python overhead.
_BASE = 192
# After pass 1, max |Q1^T Q1 - I| below this means pass 2 converges to O(eps).
_PASS1_TOL = 0.1


def _solve_upper_right(a, r):
    """Overwrite a (m x n, C-order float64) with a R^-1, R upper triangular n x n."""
    n = r.shape[0]
    if n <= _BASE:
        a[...] = a @ np.linalg.inv(r)
        return
    k = n // 2
    _solve_upper_right_view(a, r, 0, k)
    a[:, k:] -= a[:, :k] @ r[:k, k:]
    _solve_upper_right_view(a, r, k, n)


def _solve_upper_right_view(a, r, lo, hi):
    block = np.ascontiguousarray(a[:, lo:hi])
    _solve_upper_right(block, np.ascontiguousarray(r[lo:hi, lo:hi]))
    a[:, lo:hi] = block


def _cholesky_qr_pass(a):
    """One CholeskyQR step in place on a; returns False if the Cholesky failed."""
    g = a.T @ a  # numpy runs syrk for A^T A
    try:
        low = np.linalg.cholesky(g)
    except np.linalg.LinAlgError:
        return False
    _solve_upper_right(a, np.ascontiguousarray(low.T))
    return True


def householder_q(a):
    """Sign-corrected Householder Q (diag(R) >= 0): the reference and the fallback."""
    q, r = np.linalg.qr(a)
    d = np.sign(np.diagonal(r)).copy()
    d[d == 0] = 1
    return q * d


def orthogonalize(a):
    """Q with orthonormal columns and A = Q R, diag(R) > 0, for a tall float64 A (m >= n).

    a is not modified. Orthogonality error ||Q^T Q - I||_max is O(eps64) (tested)."""
    m, n = a.shape
    if m < n:
        raise ValueError(f"orthogonalize: expected a tall matrix (m >= n), got shape {a.shape}")
    if n == 0:
        return np.zeros((m, n))
    q = np.array(a, dtype=np.float64, order="C", copy=True)
    if not np.isfinite(q).all():
        raise ValueError("orthogonalize: input contains NaN/inf")
    if _cholesky_qr_pass(q):
        g = q.T @ q
        np.fill_diagonal(g, g.diagonal() - 1.0)
        if np.abs(g).max() < _PASS1_TOL and _cholesky_qr_pass(q):
            return q
    return householder_q(a)
