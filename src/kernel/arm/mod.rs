//! Kernels for 32-bit Arm.

pub(crate) mod cortex_m;
#[cfg(glocal_helium)]
pub(crate) mod helium;
