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
    let i8d = pack::pack(&src, WeightDtype::I8d, "", "").unwrap();
    let q8 = pack::pack(&src, WeightDtype::Q8, "", "").unwrap();

    std::env::set_var("GLOCAL_FORCE_ISA", "no-such-isa");
    assert_eq!(
        Transform::new(blob.as_bytes()).unwrap_err(),
        Error::KernelUnavailable { isa: "unknown GLOCAL_FORCE_ISA value" }
    );
    for isa in Isa::ALL.iter().copied() {
        std::env::set_var("GLOCAL_FORCE_ISA", isa.name());
        // f32, i8d and q8 blobs: the forced ISA's kernel for the blob's dtype must be the one
        // that runs, or the scalar one where the ISA has none for it (the q8-only ISAs).
        for (b, dtype) in [(&blob, WeightDtype::F32), (&i8d, WeightDtype::I8d), (&q8, WeightDtype::Q8)] {
            match Transform::new(b.as_bytes()) {
                Ok(t) => {
                    assert!(isa.is_available());
                    let want = glocal::kernel::kernel_info(isa, dtype)
                        .or(glocal::kernel::kernel_info(Isa::Scalar, dtype))
                        .unwrap();
                    assert_eq!(t.kernel(), want, "GLOCAL_FORCE_ISA={} ran {}", isa.name(), t.kernel().name);
                    // And it computes: identity weights give y = x.
                    let mut y = [f32::NAN; 2];
                    t.apply(&[1.5f32, -2.0], &mut y).unwrap();
                    assert_eq!(y, [1.5, -2.0], "{}", t.kernel().name);
                }
                Err(e) => {
                    assert!(!isa.is_available());
                    assert_eq!(e, Error::KernelUnavailable { isa: isa.name() });
                }
            }
        }
    }
    std::env::remove_var("GLOCAL_FORCE_ISA");
    assert_eq!(Transform::new(blob.as_bytes()).unwrap().kernel().isa, Isa::best());
    assert_eq!(Transform::new(i8d.as_bytes()).unwrap().kernel().isa, Isa::best());
    assert_eq!(Transform::new(q8.as_bytes()).unwrap().kernel().isa, Isa::best_for(WeightDtype::Q8));
}
