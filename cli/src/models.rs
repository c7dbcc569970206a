//! `glocal models`: the registry as a table.

use std::fmt::Write as _;

use crate::error::Result;
use crate::fetch::{self, Target};
use crate::registry::{self, REGISTRY};
use crate::ui;

/// Prints the registry.
pub fn run(long: bool) -> Result<()> {
    let cache = fetch::cache_dir().ok();
    let mut t = String::new();
    let sha_w = if long { 64 } else { 16 };
    let _ = writeln!(
        t,
        "{:<36} {:<13} {:>5}  {:<sha_w$}  {:<6}  NOTES",
        "MODEL", "MODULE", "DIM", "SHA256 (pinned)", "CACHED"
    );
    for e in &REGISTRY {
        let sha = match e.sha256 {
            Some(h) if long => h.to_string(),
            Some(h) => format!("{}..", &h[..14]),
            None => "-".to_string(),
        };
        let cached = match (&cache, Target::new(e.model, None, false)) {
            (Some(dir), Ok(target)) => {
                if target.cache_file(dir).is_file() {
                    "yes"
                } else {
                    "no"
                }
            }
            _ => "?",
        };
        let _ = writeln!(
            t,
            "{:<36} {:<13} {:>5}  {sha:<sha_w$}  {cached:<6}  {}",
            e.model, e.module, e.dim, e.note
        );
        if long {
            let _ = writeln!(t, "{:<36} path in the gLocal repository: {}", "", e.repo_path());
        }
    }
    let _ = writeln!(
        t,
        "\n{} also has a distinct first upload (gLocal commit d1860d3, sha256 {}):\n\
         install a copy with `glocal fetch {0} --first-upload --from FILE`.\n\
         Files come from {} (GLOCAL_BASE_URL overrides); cache: {}",
        registry::DINOV2_B14,
        if long {
            registry::DINOV2_B14_FIRST_UPLOAD_SHA256
        } else {
            &registry::DINOV2_B14_FIRST_UPLOAD_SHA256[..16]
        },
        fetch::base_url(),
        cache.map_or_else(|| "unknown (set GLOCAL_CACHE_DIR)".to_string(), |c| c.display().to_string()),
    );
    ui::print_stdout(&t)
}
