/* Constants of the activations in activations.pxd, as C macros: a pxd with
   module-level variables would need a module at run time; macros keep that file
   header-only. SELU's from Klambauer et al. (2017). */
#ifndef MICROINIT_ACTIVATION_CONSTANTS_H
#define MICROINIT_ACTIVATION_CONSTANTS_H

#define MI_SELU_ALPHA 1.6732632423543772848170429916717
#define MI_SELU_SCALE 1.0507009873554804934193349852946
#define MI_INV_SQRT2 0.70710678118654752440084436210485
#define MI_INV_SQRT_2PI 0.39894228040143267793994605993438

#endif /* MICROINIT_ACTIVATION_CONSTANTS_H */
