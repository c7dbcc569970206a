//! Kernels for 32-bit Arm.

pub(crate) mod cortex_m;
