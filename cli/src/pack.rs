//! `glocal pack`: transform.npz to blob.

use std::path::Path;

use glocal::{Transform, WeightDtype};

use crate::error::{CliError, Result};
use crate::fileio::{map_file, AtomicOutput};
use crate::load::{kind, pack_npz, Kind};
use crate::registry;

/// Packs `input` into `output`.
pub fn run(
    input: &Path,
    output: &Path,
    dtype: WeightDtype,
    model: Option<&str>,
    module: Option<&str>,
) -> Result<()> {
    let map = map_file(input)?;
    match kind(&map) {
        Kind::Npz => {}
        Kind::Blob => return Err(CliError::file(input, "is already a glocal blob (see `glocal inspect`)")),
        Kind::Npy => {
            return Err(CliError::file(
                input,
                "is a single .npy array, expected a transform.npz (zip of weights, bias, mean, std)",
            ))
        }
        Kind::Unknown => {
            return Err(CliError::file(
                input,
                "not an .npz (zip) archive: expected thingsvision's transform.npz",
            ))
        }
    }
    let inferred = registry::from_path(input);
    let model = model.unwrap_or(inferred.map_or("", |e| e.model));
    let module = module.unwrap_or(inferred.map_or("", |e| e.module));
    let blob = pack_npz(input, &map, dtype, model, module)?;
    // The packer's output must load: check before writing anything.
    Transform::new(blob.as_bytes())
        .map_err(|e| CliError::file(input, format!("packed blob does not validate: {e}")))?;
    let mut out = AtomicOutput::create(output)?;
    out.write_all(blob.as_bytes())?;
    out.commit()
}
