//! The twelve published gLocal transforms: names, dims, pinned checksums and cautions.

/// One published transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Model name as thingsvision spells it (may contain `/`, e.g. `clip_ViT-L/14`).
    pub model: &'static str,
    /// The module whose features the transform expects.
    pub module: &'static str,
    /// Feature dimension (d_in = d_out).
    pub dim: usize,
    /// sha256 of the published file, when pinned.
    pub sha256: Option<&'static str>,
    /// Trained on ImageNet: gLocal hurts its few-shot and out-of-distribution performance.
    pub imagenet: bool,
    /// One-line note shown by `glocal models`.
    pub note: &'static str,
}

impl Entry {
    /// The file's path inside the gLocal repository.
    pub fn repo_path(&self) -> String {
        repo_path(self.model, self.module)
    }
}

/// `transforms/<model>/<module>/transform.npz`, the layout of the gLocal repository.
pub fn repo_path(model: &str, module: &str) -> String {
    format!("transforms/{model}/{module}/transform.npz")
}

/// The gLocal repository's raw-file URL for its `transforms/` folder (what thingsvision downloads).
pub const DEFAULT_BASE_URL: &str = "https://raw.githubusercontent.com/LukasMut/gLocal/main/transforms";

/// sha256 of dino-vit-base-p16's published file, which dinov2-vit-base-p14's duplicates.
pub const DINO_B16_SHA256: &str = "2bcb2d77346fbaec29326edc54bc03060145ecbb1fb5d80c3c7733241a71dd69";
/// sha256 of the first upload of dinov2-vit-base-p14 (gLocal commit d1860d3), the distinct DINOv2-B/14 file.
pub const DINOV2_B14_FIRST_UPLOAD_SHA256: &str =
    "9cf041b79d8c4e16d4c9b1a4dc50c9c32f95bdcd3321ed0bf94b128c9b99b947";
/// The model whose published file is a duplicate.
pub const DINOV2_B14: &str = "dinov2-vit-base-p14";
/// `std` of the first-upload DINOv2-B/14 transform (the published duplicate's differs).
pub const DINOV2_B14_FIRST_UPLOAD_STD: f64 = 1.70077;

const IMAGENET_NOTE: &str = "ImageNet model: gLocal hurts few-shot/OOD accuracy";

/// The registry, in the order of the gLocal repository's README.
pub const REGISTRY: [Entry; 12] = [
    Entry {
        model: "clip_RN50",
        module: "visual",
        dim: 1024,
        sha256: Some("81fc831f60c43ded3508f36803e48d105560fb4992bbbe7b1db1745c83af1c4b"),
        imagenet: false,
        note: "float64 mean/std",
    },
    Entry {
        model: "clip_ViT-L/14",
        module: "visual",
        dim: 768,
        sha256: Some("4d9f969b1cac5334e87c93a6743a50e0f7d38cb41d7e8fb701584bc29d2fe25a"),
        imagenet: false,
        note: "no bias; float64 mean/std",
    },
    Entry {
        model: "OpenCLIP_ViT-L-14_laion400m_e32",
        module: "visual",
        dim: 768,
        sha256: Some("1c34c877528ea375836a2f1a8b8559070a3eadf5a5f8064bb970c1526751a915"),
        imagenet: false,
        note: "",
    },
    Entry {
        model: "OpenCLIP_ViT-L-14_laion2b_s32b_b82k",
        module: "visual",
        dim: 768,
        sha256: Some("38ac3e412c0b42fcdc1e545383ca6c1363472809b2611d0e4f4bf8d5878f7365"),
        imagenet: false,
        note: "",
    },
    Entry {
        model: "dinov2-vit-base-p14",
        module: "norm",
        dim: 768,
        sha256: Some(DINO_B16_SHA256),
        imagenet: false,
        note: "published file duplicates dino-vit-base-p16's; see --first-upload",
    },
    Entry {
        model: "dinov2-vit-large-p14",
        module: "norm",
        dim: 1024,
        sha256: Some("b3da393252d7d8407a745762b06863333793e002970d2a143f121f75e626d694"),
        imagenet: false,
        note: "",
    },
    Entry {
        model: "dino-vit-base-p16",
        module: "norm",
        dim: 768,
        sha256: Some(DINO_B16_SHA256),
        imagenet: false,
        note: "",
    },
    Entry {
        model: "dino-vit-base-p8",
        module: "norm",
        dim: 768,
        sha256: Some("583ff8178d769e687f7444be935e444e831bf501c8c5343debe69b57cef660cc"),
        imagenet: false,
        note: "",
    },
    Entry {
        model: "resnet18",
        module: "avgpool",
        dim: 512,
        sha256: Some("7a2bb20c8662eff5b3c0e27e5614b56be782479ec99d26d1ffd01a01777d7d3c"),
        imagenet: true,
        note: IMAGENET_NOTE,
    },
    Entry {
        model: "resnet50",
        module: "avgpool",
        dim: 2048,
        sha256: None,
        imagenet: true,
        note: "ImageNet model (see resnet18); sha256 not pinned: recorded at first fetch",
    },
    Entry {
        model: "vgg16",
        module: "classifier.3",
        dim: 4096,
        sha256: None,
        imagenet: true,
        note: "ImageNet model (see resnet18); sha256 not pinned: recorded at first fetch",
    },
    Entry {
        model: "alexnet",
        module: "classifier.4",
        dim: 4096,
        sha256: None,
        imagenet: true,
        note: "ImageNet model (see resnet18); sha256 not pinned: recorded at first fetch",
    },
];

/// The entry for `model`, if published.
pub fn lookup(model: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| e.model == model)
}

/// The entry whose model and module end the path `.../<model>/<module>/transform.npz`, if any:
/// names a `transform.npz` laid out as in the gLocal repository (or thingsvision's cache).
pub fn from_path(path: &std::path::Path) -> Option<&'static Entry> {
    let text = path.to_str()?.replace('\\', "/");
    let dir = text.strip_suffix("/transform.npz").or_else(|| text.strip_suffix("transform.npz"))?;
    REGISTRY.iter().find(|e| {
        let tail = format!("{}/{}", e.model, e.module);
        dir == tail || dir.ends_with(&format!("/{tail}"))
    })
}

/// Cautions to print when `model` is fetched or used (empty for most models).
///
/// `std` is the transform's std when known, to tell the first-upload DINOv2-B/14 file (no warning)
/// from the published duplicate.
pub fn cautions(model: &str, std: Option<f64>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(entry) = lookup(model) else { return out };
    if entry.imagenet {
        out.push(format!(
            "{model} is an ImageNet model: gLocal improves its alignment with human similarity \
             judgements but hurts its few-shot and out-of-distribution accuracy (Muttenthaler et al. 2023)"
        ));
    }
    let first_upload = std.is_some_and(|s| (s - DINOV2_B14_FIRST_UPLOAD_STD).abs() < 1e-4);
    if model == DINOV2_B14 && !first_upload {
        out.push(format!(
            "the published {DINOV2_B14}/norm transform is byte-identical to dino-vit-base-p16/norm's \
             (sha256 {}...): it is DINO ViT-B/16's transform, not DINOv2's (thingsvision downloads the same file). \
             If you have the distinct first upload (gLocal commit d1860d3, sha256 {}...), install it with \
             `glocal fetch {DINOV2_B14} --first-upload --from FILE` and use --first-upload",
            &DINO_B16_SHA256[..8],
            &DINOV2_B14_FIRST_UPLOAD_SHA256[..8]
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn registry_is_consistent() {
        assert_eq!(REGISTRY.len(), 12);
        let pinned = REGISTRY.iter().filter(|e| e.sha256.is_some()).count();
        assert_eq!(pinned, 9);
        for e in &REGISTRY {
            assert_eq!(lookup(e.model), Some(e));
            if let Some(h) = e.sha256 {
                assert!(h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            }
        }
        for (m, d) in [("resnet50", 2048), ("vgg16", 4096), ("alexnet", 4096)] {
            assert_eq!(lookup(m).map(|e| e.dim), Some(d));
        }
    }

    #[test]
    fn path_inference() {
        let p = Path::new("/x/transforms/clip_ViT-L/14/visual/transform.npz");
        assert_eq!(from_path(p).map(|e| e.model), Some("clip_ViT-L/14"));
        assert_eq!(from_path(Path::new("resnet18/avgpool/transform.npz")).map(|e| e.model), Some("resnet18"));
        assert_eq!(from_path(Path::new("a/xresnet18/avgpool/transform.npz")), None);
        assert_eq!(from_path(Path::new("resnet18/avgpool/other.npz")), None);
    }

    #[test]
    fn cautions_named() {
        assert_eq!(cautions("resnet50", None).len(), 1);
        assert_eq!(cautions("clip_RN50", None).len(), 0);
        assert_eq!(cautions(DINOV2_B14, Some(1.0)).len(), 1);
        assert_eq!(cautions(DINOV2_B14, Some(1.70077)).len(), 0);
    }
}
