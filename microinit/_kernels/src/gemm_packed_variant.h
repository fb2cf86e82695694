/* One variant of the packed GEMM for float and double (gemm_packed.h defines its
   settings, MI_PK_SFX .. MI_PK_MC_D, before each include; they are undefined here).
   No header guard: included once per variant. */
#define MI_PK_DOUBLE 0
#include "gemm_packed_body.h"
#undef MI_PK_DOUBLE
#define MI_PK_DOUBLE 1
#include "gemm_packed_body.h"
#undef MI_PK_DOUBLE
#undef MI_PK_SFX
#undef MI_PK_TGT
#undef MI_PK_VB
#undef MI_PK_HAVE_TR
#undef MI_PK_MR_F
#undef MI_PK_NV_F
#undef MI_PK_KC_F
#undef MI_PK_MC_F
#undef MI_PK_MR_D
#undef MI_PK_NV_D
#undef MI_PK_KC_D
#undef MI_PK_MC_D
