//! Which instruction set the models' hot loops run on.
//!
//! The image model's coding loop and the context mixer are compiled twice:
//! for any processor (the reference) and with AVX2, chosen at run time. Both
//! are the same integer operations (AVX2 only lets the compiler do eight at
//! a time), so they give the same probabilities and the same bits; tests
//! compare them through [`with_portable_kernels`]. The hand-written AVX2
//! kernels (the image network's layers, the language model's int8 dot
//! product, `cmlm`'s output adapter) are chosen here too, each with a test
//! against its scalar reference.

use std::cell::Cell;

thread_local! {
    static PORTABLE: Cell<bool> = const { Cell::new(false) };
}

/// Whether models built on this thread may run their AVX2 code: the
/// processor has AVX2 and [`with_portable_kernels`] is not in force.
#[inline]
pub(crate) fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !PORTABLE.with(Cell::get) && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `f` with the portable (reference) code of the models' hot loops on
/// this thread: for tests that check that the fast code gives the same
/// bits.
#[doc(hidden)]
pub fn with_portable_kernels<T>(f: impl FnOnce() -> T) -> T {
    let before = PORTABLE.with(|p| p.replace(true));
    let out = f();
    PORTABLE.with(|p| p.set(before));
    out
}
