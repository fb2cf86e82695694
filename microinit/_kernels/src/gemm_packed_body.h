/* One instruction-set variant of the packed GEMM (Goto & van de Geijn) for one scalar
   type; included by gemm_packed_variant.h, with these macros set:
     MI_PK_SFX      name suffix (avx512, avx2, base)
     MI_PK_TGT      function attribute selecting the instruction set (may be empty)
     MI_PK_VB       vector bytes (64, 32, 16)
     MI_PK_MR_F, MI_PK_NV_F, MI_PK_MR_D, MI_PK_NV_D
                    register tile: MR rows of op(A) x NV vectors of op(B) columns
     MI_PK_KC_F, MI_PK_MC_F, MI_PK_KC_D, MI_PK_MC_D
                    cache blocking: depth and rows per packed block of A
     MI_PK_DOUBLE   0: float (the _F sizes), 1: double (the _D sizes)
   No header guard: included once per variant and type. */

#if MI_PK_DOUBLE
#define MI_PK_T double
#define MI_PK_TS d
#define MI_PK_MR MI_PK_MR_D
#define MI_PK_NV MI_PK_NV_D
#define MI_PK_KC MI_PK_KC_D
#define MI_PK_MC MI_PK_MC_D
#if MI_PK_HAVE_TR
#define MI_PK_TR mi_tr4_d
#define MI_PK_TRV __m256d
#define MI_PK_TRL 4
#define MI_PK_TR_LOAD _mm256_loadu_pd
#define MI_PK_TR_STORE _mm256_storeu_pd
#endif
#else
#define MI_PK_T float
#define MI_PK_TS f
#define MI_PK_MR MI_PK_MR_F
#define MI_PK_NV MI_PK_NV_F
#define MI_PK_KC MI_PK_KC_F
#define MI_PK_MC MI_PK_MC_F
#if MI_PK_HAVE_TR
#define MI_PK_TR mi_tr8_f
#define MI_PK_TRV __m256
#define MI_PK_TRL 8
#define MI_PK_TR_LOAD _mm256_loadu_ps
#define MI_PK_TR_STORE _mm256_storeu_ps
#endif
#endif

#define MI_PK_CAT_(a, b, c) a##_##b##_##c
#define MI_PK_CAT(a, b, c) MI_PK_CAT_(a, b, c)
#define MI_PK_FN(name) MI_PK_CAT(name, MI_PK_TS, MI_PK_SFX)
#define MI_PK_STR_(x) #x
#define MI_PK_STR(x) MI_PK_STR_(x)

#define MI_PK_L (MI_PK_VB / (int)sizeof(MI_PK_T))
#define MI_PK_NR (MI_PK_NV * MI_PK_L)

/* panel: dst[p * W + c] = X(c, p) = src[c * ls + p * ds] for c < cols, p < kc, and
   zero for cols <= c < W: one packed panel of W lines of an operand (W = MR rows of
   op(A), or NR columns of op(B)). With ls == 1 each depth step is a contiguous copy;
   with ds == 1 (the lines contiguous along the depth) a full panel goes through
   TL x TL register transposes, a W that is not a multiple of TL taking a last block
   that overlaps the one before (those lines are written twice, with the same values). */
static inline __attribute__((always_inline)) MI_PK_TGT void MI_PK_FN(mi_pk_panel)(
    const int W, long cols, long kc, const MI_PK_T *src, long ls, long ds,
    MI_PK_T *restrict dst)
{
    long p = 0;
    if (ls == 1 && cols == W) {
        for (; p < kc; ++p)
            memcpy(dst + p * W, src + p * ds, W * sizeof(MI_PK_T));
        return;
    }
#if MI_PK_HAVE_TR
    enum { TL = MI_PK_TRL };
    if (ds == 1 && cols == W && W >= TL) {
        for (; p + TL <= kc; p += TL)
            for (long c0 = 0; c0 < W; c0 += TL) {
                long cb = c0 + TL <= W ? c0 : W - TL;
                MI_PK_TRV v[TL];
                for (int q = 0; q < TL; ++q)
                    v[q] = MI_PK_TR_LOAD(src + (cb + q) * ls + p);
                MI_PK_TR(v);
                for (int q = 0; q < TL; ++q)
                    MI_PK_TR_STORE(dst + (p + q) * W + cb, v[q]);
            }
    }
#endif
    for (; p < kc; ++p)
        for (long c = 0; c < W; ++c)
            dst[p * W + c] = c < cols ? src[c * ls + p * ds] : 0;
}

/* pack_a: one MC x KC block of op(A) (A points at op(A)(0, 0)), in the layout its tile
   reads fastest; returns the row stride of that layout, 0 for panels.
   * op(A) = A (rows contiguous): the rows copied as they are, a_ld elements apart
     (kc rounded up to a line, plus one line, so that the MR rows a tile reads side
     by side fall in different L1 sets), the rows of the last panel past mc zero. The
     tile broadcasts from MR rows (mi_pk_kernel_rows): no transposes.
   * op(A) = A^T: panels, Ap[panel][p][r] = op(A)(panel * MR + r, p) = A[p * lda + r],
     a contiguous copy per depth step, zero for rows past mc. */
static MI_MAYBE_UNUSED MI_PK_TGT long MI_PK_FN(mi_pk_pack_a)(
    long mc, long kc, const MI_PK_T *A, long lda, int ta, MI_PK_T *restrict Ap)
{
    if (!ta) {
        enum { LINE = 64 / (int)sizeof(MI_PK_T) };
        long a_ld = (kc + LINE - 1) / LINE * LINE + LINE;
        long rows = (mc + MI_PK_MR - 1) / MI_PK_MR * MI_PK_MR;
        for (long r = 0; r < mc; ++r)
            memcpy(Ap + r * a_ld, A + r * lda, kc * sizeof(MI_PK_T));
        for (long r = mc; r < rows; ++r)
            memset(Ap + r * a_ld, 0, kc * sizeof(MI_PK_T));
        return a_ld;
    }
    for (long ir = 0; ir < mc; ir += MI_PK_MR, Ap += MI_PK_MR * kc)
        MI_PK_FN(mi_pk_panel)(MI_PK_MR, mc - ir < MI_PK_MR ? mc - ir : MI_PK_MR, kc, A + ir, 1,
                              lda, Ap);
    return 0;
}

/* pack_b: Bp[panel][p][c] = op(B)(p, panel * NR + c) for c < nc, zero past nc.
   op(B)(p, j) is B[p * ldb + j], or B[j * ldb + p] when tb. */
static MI_MAYBE_UNUSED MI_PK_TGT void MI_PK_FN(mi_pk_pack_b)(
    long kc, long nc, const MI_PK_T *B, long ldb, int tb, MI_PK_T *restrict Bp)
{
    long ls = tb ? ldb : 1, ds = tb ? 1 : ldb;
    for (long jr = 0; jr < nc; jr += MI_PK_NR, Bp += MI_PK_NR * kc)
        MI_PK_FN(mi_pk_panel)(MI_PK_NR, nc - jr < MI_PK_NR ? nc - jr : MI_PK_NR, kc,
                              B + jr * ls, ls, ds, Bp);
}

/* tile: C[0:rows, 0:cols] (+)= the MR x NR product op(A) @ B over kc steps, with
   B(p, c) = Bp[p * b_rs + c] (NR columns readable: a zero-padded panel past cols)
   and op(A) either a packed panel, A(r, p) = A[p * MR + r] (in_place == 0), or MR
   full rows read where they are, A(r, p) = A[r * lda + p] (in_place == 1).
   The accumulators are an array indexed only by constants after full unrolling, so
   they live in registers (MR * NV of them). A clipped tile goes through a buffer. */
static inline __attribute__((always_inline)) MI_PK_TGT void MI_PK_FN(mi_pk_tile)(
    const int in_place, long kc, const MI_PK_T *restrict A, long lda,
    const MI_PK_T *restrict Bp, long b_rs, MI_PK_T *C, long ldc, long rows, long cols,
    int add)
{
    typedef MI_PK_T V __attribute__((vector_size(MI_PK_VB)));
    typedef MI_PK_T VU __attribute__((vector_size(MI_PK_VB), aligned(sizeof(MI_PK_T)), may_alias));
    enum { MR = MI_PK_MR, NV = MI_PK_NV, L = MI_PK_L, NR = MI_PK_NR };
    V acc[MR][NV];
    MI_PK_UNROLL
    for (int r = 0; r < MR; ++r)
        MI_PK_UNROLL
        for (int v = 0; v < NV; ++v)
            acc[r][v] = (V){0};
    /* C's tile is read and written after the depth loop: start fetching its lines now
       (a 1024 x 1024 C does not stay in L2, and its rows are 4 KiB apart) */
    if (cols == NR)
        for (long r = 0; r < rows; ++r) {
            MI_PK_UNROLL
            for (int v = 0; v < NV; ++v)
                __builtin_prefetch(C + r * ldc + v * L, 1, 3);
            __builtin_prefetch(C + r * ldc + NR - 1, 1, 3);
        }
    /* step u of a group: A element (r, p + u) */
#define MI_PK_STEP(u)                                                             \
    {                                                                             \
        V b[NV];                                                                  \
        MI_PK_UNROLL                                                              \
        for (int v = 0; v < NV; ++v)                                              \
            b[v] = *(const VU *)(Bp + (u) * b_rs + v * L);                        \
        MI_PK_UNROLL                                                              \
        for (int r = 0; r < MR; ++r) {                                            \
            MI_PK_T a = in_place ? A[r * lda + (u)] : A[(u) * MR + r];            \
            MI_PK_UNROLL                                                          \
            for (int v = 0; v < NV; ++v)                                          \
                acc[r][v] += a * b[v];                                            \
        }                                                                         \
    }
    long p = 0;
    for (; p + 4 <= kc; p += 4) {
        MI_PK_STEP(0) MI_PK_STEP(1) MI_PK_STEP(2) MI_PK_STEP(3)
        A += in_place ? 4 : 4 * MR;
        Bp += 4 * b_rs;
    }
    for (; p < kc; ++p) {
        MI_PK_STEP(0)
        A += in_place ? 1 : MR;
        Bp += b_rs;
    }
#undef MI_PK_STEP
    if (rows == MR && cols == NR) {
        MI_PK_UNROLL
        for (int r = 0; r < MR; ++r)
            MI_PK_UNROLL
            for (int v = 0; v < NV; ++v) {
                VU *dst = (VU *)(C + r * ldc + v * L);
                V x = acc[r][v];
                if (add)
                    x += *dst;
                *dst = x;
            }
        return;
    }
    MI_PK_T tile[MR * NR] __attribute__((aligned(64)));
    MI_PK_UNROLL
    for (int r = 0; r < MR; ++r)
        MI_PK_UNROLL
        for (int v = 0; v < NV; ++v)
            *(V *)(tile + r * NR + v * L) = acc[r][v];
    for (long r = 0; r < rows; ++r)
        for (long c = 0; c < cols; ++c)
            C[r * ldc + c] = add ? C[r * ldc + c] + tile[r * NR + c] : tile[r * NR + c];
}

/* the two specialisations of the tile: a packed A panel, or MR rows of A in place */
static MI_MAYBE_UNUSED MI_PK_TGT void MI_PK_FN(mi_pk_kernel)(
    long kc, const MI_PK_T *Ap, const MI_PK_T *Bp, long b_rs, MI_PK_T *C, long ldc, long rows,
    long cols, int add)
{
    MI_PK_FN(mi_pk_tile)(0, kc, Ap, 0, Bp, b_rs, C, ldc, rows, cols, add);
}
static MI_MAYBE_UNUSED MI_PK_TGT void MI_PK_FN(mi_pk_kernel_rows)(
    long kc, const MI_PK_T *A, long lda, const MI_PK_T *Bp, long b_rs, MI_PK_T *C, long ldc,
    long rows, long cols, int add)
{
    MI_PK_FN(mi_pk_tile)(1, kc, A, lda, Bp, b_rs, C, ldc, rows, cols, add);
}

/* block: C[0:mc, 0:nc] (+)= packed A block (mc x kc; rows a_ld apart, or panels when
   a_ld == 0: pack_a's layout) @ packed B block (kc x nc): column panels outer (a B
   panel stays close while every A panel passes it), row panels inner. */
static MI_MAYBE_UNUSED MI_PK_TGT void MI_PK_FN(mi_pk_block)(
    long mc, long nc, long kc, const MI_PK_T *Ap, long a_ld, const MI_PK_T *Bp, MI_PK_T *C,
    long ldc, int add)
{
    enum { MR = MI_PK_MR, NR = MI_PK_NR };
    for (long jr = 0; jr < nc; jr += NR) {
        long cols = nc - jr < NR ? nc - jr : NR;
        const MI_PK_T *bp = Bp + jr * kc;
        for (long ir = 0; ir < mc; ir += MR) {
            long rows = mc - ir < MR ? mc - ir : MR;
            if (a_ld)
                MI_PK_FN(mi_pk_kernel_rows)(kc, Ap + ir * a_ld, a_ld, bp, NR, C + ir * ldc + jr,
                                            ldc, rows, cols, add);
            else
                MI_PK_FN(mi_pk_kernel)(kc, Ap + ir * kc, bp, NR, C + ir * ldc + jr, ldc, rows,
                                       cols, add);
        }
    }
}

/* small: C (+)= A @ B for row-major A (m x k) and B (k x n), nothing packed where a
   tile can read its operands in place: full MR-row panels of A and full NR-column
   panels of B are read where they are, only a ragged last panel of either is copied
   (zero-padded) into the stack buffers. For products whose packing would cost a
   large share of the time (one pass over a few-hundred-column operand), on one
   thread. */
static MI_MAYBE_UNUSED MI_PK_TGT void MI_PK_FN(mi_pk_small)(
    long m, long n, long k, const MI_PK_T *A, long lda, const MI_PK_T *B, long ldb,
    MI_PK_T *C, long ldc, int accumulate)
{
    enum { MR = MI_PK_MR, NR = MI_PK_NR, KC = MI_PK_SMALL_KC };
    MI_PK_T abuf[MR * KC] __attribute__((aligned(64)));
    MI_PK_T bbuf[KC * NR] __attribute__((aligned(64)));
    long m_full = m / MR * MR;
    for (long pc = 0; pc < k; pc += KC) {
        long kc = k - pc < KC ? k - pc : KC;
        int add = accumulate || pc > 0;
        if (m_full < m) /* the ragged last rows as one zero-padded panel */
            MI_PK_FN(mi_pk_panel)(MR, m - m_full, kc, A + m_full * lda + pc, lda, 1, abuf);
        for (long jr = 0; jr < n; jr += NR) {
            long cols = n - jr < NR ? n - jr : NR;
            const MI_PK_T *bp = B + pc * ldb + jr;
            long b_rs = ldb;
            if (cols < NR) {
                MI_PK_FN(mi_pk_pack_b)(kc, cols, bp, ldb, 0, bbuf);
                bp = bbuf;
                b_rs = NR;
            }
            for (long ir = 0; ir < m_full; ir += MR)
                MI_PK_FN(mi_pk_kernel_rows)(kc, A + ir * lda + pc, lda, bp, b_rs,
                                            C + ir * ldc + jr, ldc, MR, cols, add);
            if (m_full < m)
                MI_PK_FN(mi_pk_kernel)(kc, abuf, bp, b_rs, C + m_full * ldc + jr, ldc,
                                       m - m_full, cols, add);
        }
    }
}

/* the variant's entry in the dispatch table */
static MI_MAYBE_UNUSED const MI_PK_CAT(mi_pk_ops, MI_PK_TS, t) MI_PK_FN(mi_pk_ops) = {
    MI_PK_MR, MI_PK_NR, MI_PK_KC, MI_PK_MC,
    MI_PK_FN(mi_pk_pack_a), MI_PK_FN(mi_pk_pack_b), MI_PK_FN(mi_pk_block),
    MI_PK_FN(mi_pk_small), MI_PK_STR(MI_PK_SFX),
};

#undef MI_PK_STR
#undef MI_PK_STR_
#undef MI_PK_T
#undef MI_PK_TS
#undef MI_PK_MR
#undef MI_PK_NV
#undef MI_PK_KC
#undef MI_PK_MC
#undef MI_PK_TR
#undef MI_PK_TRV
#undef MI_PK_TRL
#undef MI_PK_TR_LOAD
#undef MI_PK_TR_STORE
#undef MI_PK_L
#undef MI_PK_NR
#undef MI_PK_FN
#undef MI_PK_CAT
#undef MI_PK_CAT_
