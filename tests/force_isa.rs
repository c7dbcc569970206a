//! `GLOCAL_FORCE_ISA` selects the kernel, and a bad value is an error, not a silent fallback.
//! One test in its own binary: it changes the process environment.

use glocal::kernel::Isa;
use glocal::{pack, Error, Transform, WeightDtype};

#[test]
fn force_isa_env_var() {
    let src = pack::Source {
        d_in: 2,
        d_out: 2,
        weights: vec![1.0, 0.0, 0.0, 1.0],
        bias: None,
        mean: 0.0,
        std: 1.0,
    };
    let blob = pack::pack(&src, WeightDtype::F32, "", "").unwrap();

    std::env::set_var("GLOCAL_FORCE_ISA", "no-such-isa");
    assert_eq!(
        Transform::new(blob.as_bytes()).unwrap_err(),
        Error::KernelUnavailable { isa: "unknown GLOCAL_FORCE_ISA value" }
    );
    for isa in Isa::ALL.iter().copied() {
        std::env::set_var("GLOCAL_FORCE_ISA", isa.name());
        match Transform::new(blob.as_bytes()) {
            Ok(t) => {
                assert!(isa.is_available());
                assert_eq!(t.kernel().isa, isa, "GLOCAL_FORCE_ISA={} ran {}", isa.name(), t.kernel().name);
            }
            Err(e) => {
                assert!(!isa.is_available());
                assert_eq!(e, Error::KernelUnavailable { isa: isa.name() });
            }
        }
    }
    std::env::remove_var("GLOCAL_FORCE_ISA");
    assert_eq!(Transform::new(blob.as_bytes()).unwrap().kernel().isa, Isa::best());
}
