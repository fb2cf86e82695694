/* The direct GEMM's horizontal sums, ragged stores and tile stores (transposed or
   not), for one instruction-set variant: included by gemm_direct_body.h, once per
   variant, after it has defined the variant's names, vector types (mi_vf, mi_vd),
   MI_DVB and the lane counts MI_LF / MI_LD. No header guard. */
/* In-register transposes (transpose_avx.h), the 4-way horizontal sums of the
   dot-product path, and the tile stores. MI_TLF / MI_TLD: the lanes of one transposed
   block (8 x 8 floats, 4 x 4 doubles in ymm registers); a 64-byte vector is two. */
#define MI_TLF 8
#define MI_TLD 4
#ifdef __AVX__
#include "transpose_avx.h"
#define mi_tr_f mi_tr8_f
#define mi_tr_d mi_tr4_d
/* out[0..3] = the sums of the lanes of a, b, c, d (ymm) */
MI_AI void mi_hsum8_f(__m256 a, __m256 b, __m256 c, __m256 d, float *out)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
}
MI_AI void mi_hsum4x4_d(__m256d a, __m256d b, __m256d c, __m256d d, double *out)
{
    __m256d h1 = _mm256_hadd_pd(a, b);
    __m256d h2 = _mm256_hadd_pd(c, d);
    _mm256_storeu_pd(out, _mm256_add_pd(_mm256_permute2f128_pd(h1, h2, 0x20),
                                         _mm256_permute2f128_pd(h1, h2, 0x31)));
}
#if MI_DVB == 64
/* half h (0 low, 1 high) of a 64-byte vector as a ymm register */
MI_AI __m256 mi_half_f(mi_vf v, int h)
{
    return h ? _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd((__m512)v), 1))
             : _mm512_castps512_ps256((__m512)v);
}
MI_AI __m256d mi_half_d(mi_vd v, int h)
{
    return h ? _mm512_extractf64x4_pd((__m512d)v, 1) : _mm512_castpd512_pd256((__m512d)v);
}
MI_AI void mi_hsum4_f(mi_vf a, mi_vf b, mi_vf c, mi_vf d, float *out)
{
    mi_hsum8_f(_mm256_add_ps(mi_half_f(a, 0), mi_half_f(a, 1)),
               _mm256_add_ps(mi_half_f(b, 0), mi_half_f(b, 1)),
               _mm256_add_ps(mi_half_f(c, 0), mi_half_f(c, 1)),
               _mm256_add_ps(mi_half_f(d, 0), mi_half_f(d, 1)), out);
}
MI_AI void mi_hsum4_d(mi_vd a, mi_vd b, mi_vd c, mi_vd d, double *out)
{
    mi_hsum4x4_d(_mm256_add_pd(mi_half_d(a, 0), mi_half_d(a, 1)),
                 _mm256_add_pd(mi_half_d(b, 0), mi_half_d(b, 1)),
                 _mm256_add_pd(mi_half_d(c, 0), mi_half_d(c, 1)),
                 _mm256_add_pd(mi_half_d(d, 0), mi_half_d(d, 1)), out);
}
/* row[0:n] (+)= v[0:n] (n >= 1; all lanes for n >= the lane count) through an
   AVX-512 mask: lanes past n are neither read nor written (no fault either) */
MI_AI void mi_put_f(float *row, __m256 v, long n, int add)
{
    __mmask8 k = n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1);
    if (add) v = _mm256_add_ps(v, _mm256_maskz_loadu_ps(k, row));
    _mm256_mask_storeu_ps(row, k, v);
}
MI_AI void mi_put_d(double *row, __m256d v, long n, int add)
{
    __mmask8 k = n >= 4 ? (__mmask8)0xF : (__mmask8)((1u << n) - 1);
    if (add) v = _mm256_add_pd(v, _mm256_maskz_loadu_pd(k, row));
    _mm256_mask_storeu_pd(row, k, v);
}
MI_AI void mi_putv_f(float *row, mi_vf v, long n, int add)
{
    __mmask16 k = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    __m512 x = (__m512)v;
    if (add) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(k, row));
    _mm512_mask_storeu_ps(row, k, x);
}
MI_AI void mi_putv_d(double *row, mi_vd v, long n, int add)
{
    __mmask8 k = n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1);
    __m512d x = (__m512d)v;
    if (add) x = _mm512_add_pd(x, _mm512_maskz_loadu_pd(k, row));
    _mm512_mask_storeu_pd(row, k, x);
}
#else
MI_AI __m256 mi_half_f(mi_vf v, int h) { (void)h; return (__m256)v; }
MI_AI __m256d mi_half_d(mi_vd v, int h) { (void)h; return (__m256d)v; }
MI_AI void mi_hsum4_f(mi_vf a, mi_vf b, mi_vf c, mi_vf d, float *out)
{
    mi_hsum8_f((__m256)a, (__m256)b, (__m256)c, (__m256)d, out);
}
MI_AI void mi_hsum4_d(mi_vd a, mi_vd b, mi_vd c, mi_vd d, double *out)
{
    mi_hsum4x4_d((__m256d)a, (__m256d)b, (__m256d)c, (__m256d)d, out);
}
/* row[0:n] (+)= v[0:n] for n >= 1 (all lanes for n >= the lane count), in pieces of
   4/2/1 lanes taken from registers: reloading single lanes of a just-spilled vector
   stalls store forwarding (~100 cycles per ragged 6-row tile, measured). */
MI_AI void mi_put_f(float *row, __m256 v, long n, int add)
{
    if (n >= 8) {
        if (add) v = _mm256_add_ps(v, _mm256_loadu_ps(row));
        _mm256_storeu_ps(row, v);
        return;
    }
    __m128 x = _mm256_castps256_ps128(v);
    if (n >= 4) {
        __m128 y = add ? _mm_add_ps(x, _mm_loadu_ps(row)) : x;
        _mm_storeu_ps(row, y);
        x = _mm256_extractf128_ps(v, 1);
        row += 4; n -= 4;
    }
    if (n >= 2) {
        __m128 y = add ? _mm_add_ps(x, _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)row)) : x;
        _mm_storel_pi((__m64 *)row, y);
        x = _mm_movehl_ps(x, x);
        row += 2; n -= 2;
    }
    if (n >= 1) {
        if (add) x = _mm_add_ss(x, _mm_load_ss(row));
        _mm_store_ss(row, x);
    }
}
MI_AI void mi_put_d(double *row, __m256d v, long n, int add)
{
    if (n >= 4) {
        if (add) v = _mm256_add_pd(v, _mm256_loadu_pd(row));
        _mm256_storeu_pd(row, v);
        return;
    }
    __m128d x = _mm256_castpd256_pd128(v);
    if (n >= 2) {
        __m128d y = add ? _mm_add_pd(x, _mm_loadu_pd(row)) : x;
        _mm_storeu_pd(row, y);
        x = _mm256_extractf128_pd(v, 1);
        row += 2; n -= 2;
    }
    if (n >= 1) {
        if (add) x = _mm_add_sd(x, _mm_load_sd(row));
        _mm_store_sd(row, x);
    }
}
MI_AI void mi_putv_f(float *row, mi_vf v, long n, int add) { mi_put_f(row, (__m256)v, n, add); }
MI_AI void mi_putv_d(double *row, mi_vd v, long n, int add) { mi_put_d(row, (__m256d)v, n, add); }
#endif
/* MI_STORE(name, T, V, L, TL, TV, PUTV, PUT, HALF, TR, ZERO): C (+)= the R x W*L
   tile acc (rows acc[2i], acc[2i+1]) clipped to nr columns; tc: C[j * ldc + i],
   through in-register transposes of TL x TL blocks (TL-lane pieces of the tile's
   vectors; tile rows past R are zero and never stored). */
#define MI_STORE(NAME, T, V, L, TL, TV, PUTV, PUT, HALF, TR, ZERO)                \
MI_AI void NAME(const int R, const int W, const V *acc, T *C, long ldc, long nr,  \
                int add, int tc)                                                  \
{                                                                                 \
    if (!tc) {                                                                    \
        MI_UNROLL                                                                 \
        for (int i = 0; i < R; ++i) {                                             \
            T *row = C + i * ldc;                                                 \
            if (W > 1 && nr > L) {                                                \
                PUTV(row, acc[2 * i], L, add);                                    \
                PUTV(row + L, acc[2 * i + 1], nr - L, add);                       \
            } else {                                                              \
                PUTV(row, acc[2 * i], nr, add);                                   \
            }                                                                     \
        }                                                                         \
        return;                                                                   \
    }                                                                             \
    for (int w = 0; w < W; ++w)                                                   \
        for (int h = 0; h < L / TL; ++h) {                                        \
            long c0 = w * L + h * TL;                                             \
            if (c0 >= nr)                                                         \
                return;                                                           \
            long cols = nr - c0 < TL ? nr - c0 : TL;                              \
            for (int i0 = 0; i0 < R; i0 += TL) {                                  \
                TV t[TL];                                                         \
                MI_UNROLL                                                         \
                for (int q = 0; q < TL; ++q)                                      \
                    t[q] = i0 + q < R ? HALF(acc[2 * (i0 + q) + w], h) : ZERO;    \
                TR(t);                                                            \
                for (long j = 0; j < cols; ++j)                                   \
                    PUT(C + (c0 + j) * ldc + i0, t[j], R - i0, add);              \
            }                                                                     \
        }                                                                         \
}
MI_STORE(mi_store_f, float, mi_vf, MI_LF, MI_TLF, __m256, mi_putv_f, mi_put_f, mi_half_f,
         mi_tr_f, _mm256_setzero_ps())
MI_STORE(mi_store_d, double, mi_vd, MI_LD, MI_TLD, __m256d, mi_putv_d, mi_put_d, mi_half_d,
         mi_tr_d, _mm256_setzero_pd())
#define MI_HAVE_TR 1
#else
#define MI_HSUM4(NAME, T, V, L)                                                   \
MI_AI void NAME(V a, V b, V c, V d, T *out)                                       \
{                                                                                 \
    out[0] = out[1] = out[2] = out[3] = 0;                                        \
    for (int l = 0; l < L; ++l) {                                                 \
        out[0] += a[l]; out[1] += b[l]; out[2] += c[l]; out[3] += d[l];           \
    }                                                                             \
}
MI_HSUM4(mi_hsum4_f, float, mi_vf, MI_LF)
MI_HSUM4(mi_hsum4_d, double, mi_vd, MI_LD)
/* portable: the element loops of MI_STORE without the AVX shuffles */
#define MI_STORE_PLAIN(NAME, T, V, L)                                             \
MI_AI void NAME(const int R, const int W, const V *acc, T *C, long ldc, long nr,  \
                int add, int tc)                                                  \
{                                                                                 \
    T tile[MI_DR_MAX][2 * L];                                                     \
    memcpy(tile, acc, sizeof(tile));                                              \
    for (int i = 0; i < R; ++i)                                                   \
        for (long j = 0; j < nr; ++j) {                                           \
            T *c = tc ? C + j * ldc + i : C + i * ldc + j;                        \
            *c = add ? *c + tile[i][j] : tile[i][j];                              \
        }                                                                         \
}
MI_STORE_PLAIN(mi_store_f, float, mi_vf, MI_LF)
MI_STORE_PLAIN(mi_store_d, double, mi_vd, MI_LD)
#define MI_HAVE_TR 0
#endif
