//! The panic boundary every exported body runs inside.

/// Runs `f`; on hosted builds a panic inside it returns `on_panic` instead of unwinding into C.
///
/// Without the `std` feature there is no unwinding (bare-metal targets abort on panic through
/// the crate's panic handler) and `f` runs as is.
#[inline(always)]
pub(crate) fn guard<R>(on_panic: R, f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "std")]
    {
        std::panic::catch_unwind(core::panic::AssertUnwindSafe(f)).unwrap_or(on_panic)
    }
    #[cfg(not(feature = "std"))]
    {
        let _ = on_panic;
        f()
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::guard;
    use crate::glocal_status;

    #[test]
    fn a_panic_becomes_the_fallback_value() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(std::boxed::Box::new(|_| {}));
        let got = guard(glocal_status::GLOCAL_STATUS_INTERNAL_PANIC, || panic!("boom"));
        std::panic::set_hook(hook);
        assert_eq!(got, glocal_status::GLOCAL_STATUS_INTERNAL_PANIC);
        assert_eq!(
            guard(glocal_status::GLOCAL_STATUS_INTERNAL_PANIC, || glocal_status::GLOCAL_STATUS_OK),
            glocal_status::GLOCAL_STATUS_OK
        );
    }
}
