//! `glocal`: fetch, pack, inspect and apply gLocal human-alignment transforms from the command
//! line, and embed packed blobs in C or Rust firmware. See `docs/CLI.md`.
//!
//! Exit codes: 0 success, 1 an error (one line on stderr: `glocal: <where>: <what>`), 2 a usage
//! error (from clap). A failed command never leaves a partial output file behind.

// The doc comments on the clap structs are the tool's --help text, written for a terminal
// (`[n, d_in]`, `<model>/<module>`), not rustdoc markup.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod align;
mod emit;
mod inspect;
mod models;
mod pack;

// The modules the Python package shares live in the library (src/lib.rs).
use glocal_cli::{error, fetch, fileio, load, registry, ui};

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use glocal::WeightDtype;

use crate::error::Result;

/// Apply gLocal human-alignment transforms (thingsvision's `y = ((x - mean) / std) @ W + b`)
/// anywhere: pack them into zero-copy blobs, align feature files, embed blobs in firmware.
#[derive(Parser, Debug)]
#[command(name = "glocal", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output element type on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Dtype {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16.
    Bf16,
}

impl Dtype {
    fn weight(self) -> WeightDtype {
        match self {
            Dtype::F32 => WeightDtype::F32,
            Dtype::F16 => WeightDtype::F16,
            Dtype::Bf16 => WeightDtype::Bf16,
        }
    }
}

/// Weight storage dtype on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum WeightArg {
    /// IEEE binary32.
    F32,
    /// IEEE binary16 (half the bytes of f32).
    F16,
    /// bfloat16 (half the bytes of f32).
    Bf16,
    /// Exact f32 diagonal, off-diagonal int8 with a scale per input row (about half the bytes of f16).
    I8d,
    /// int8 weights with exact int32 sums (integer dot products; the same bits on every CPU).
    Q8,
}

impl WeightArg {
    fn weight(self) -> WeightDtype {
        match self {
            WeightArg::F32 => WeightDtype::F32,
            WeightArg::F16 => WeightDtype::F16,
            WeightArg::Bf16 => WeightDtype::Bf16,
            WeightArg::I8d => WeightDtype::I8d,
            WeightArg::Q8 => WeightDtype::Q8,
        }
    }
}

/// Most threads `align --threads` accepts (a typo guard; far above any core count glocal targets).
const MAX_THREADS: u16 = 1024;

#[derive(Subcommand, Debug)]
enum Command {
    /// Pack a thingsvision transform.npz into a glocal blob (normalisation folded in f64); prints
    /// and records the blob's measured error (max |y - y_ref| / max |y_ref| on probe rows).
    Pack {
        /// The transform.npz (weights, optional bias, mean, std).
        input: PathBuf,
        /// Output blob file.
        #[arg(short, long)]
        output: PathBuf,
        /// Weight storage dtype.
        #[arg(long, value_enum, default_value = "f32")]
        dtype: WeightArg,
        /// Model name stored in the header (default: inferred from a .../<model>/<module>/transform.npz path).
        #[arg(long)]
        model: Option<String>,
        /// Module name stored in the header (default: inferred like --model).
        #[arg(long)]
        module: Option<String>,
        /// Measure the error on these rows instead of 64 random ones: a float .npy [n, d_in] or [d_in].
        #[arg(long, value_name = "FILE.npy")]
        probe: Option<PathBuf>,
        /// Write nothing and exit 1 if the measured error (max |y - y_ref| / max |y_ref|) exceeds E.
        #[arg(long, value_name = "E", allow_hyphen_values = true, value_parser = finite_positive::<f64>)]
        max_error: Option<f64>,
        /// Do not print the measured error.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Apply a transform to a feature file: `y = ((x - mean) / std) @ W + b`.
    Align {
        /// A glocal blob (memory-mapped), a transform.npz (packed in memory), or a published
        /// model name (see `glocal models`; fetched into the cache if needed).
        transform: String,
        /// Features: .npy float32/float64/float16 (or int8/uint8 with --input-scale), shape [n, d_in] or [d_in] (or .npz with --key).
        features: PathBuf,
        /// Output .npy: [n, d_out] or [d_out].
        #[arg(short, long)]
        output: PathBuf,
        /// Weight dtype when packing a transform.npz or model name [default: f32]; a blob keeps its own.
        #[arg(long, value_enum)]
        dtype: Option<WeightArg>,
        /// Output element type: f32 ('<f4'), f16 ('<f2'), or bf16 (stored as '<u2' bit patterns: numpy has no bfloat16).
        #[arg(long, value_enum, default_value = "f32")]
        out_dtype: Dtype,
        /// Scale each output row to unit L2 norm (cosine-ready embeddings); a zero row stays zero.
        #[arg(long)]
        normalize: bool,
        /// Threads for the transform: 1 runs on the calling thread, 0 uses every available core.
        #[arg(long, default_value_t = 1, value_name = "N",
              value_parser = clap::value_parser!(u16).range(0..=MAX_THREADS as i64))]
        threads: u16,
        /// Array name inside an .npz feature file (default: its only array).
        #[arg(long)]
        key: Option<String>,
        /// int8/uint8 features only (required there): each element q is the real value S * (q - Z).
        #[arg(long, value_name = "S", allow_hyphen_values = true, value_parser = finite_positive::<f32>)]
        input_scale: Option<f32>,
        /// int8/uint8 features only: the zero point Z (-128..=127 for int8, 0..=255 for uint8) [default: 0].
        #[arg(long, value_name = "Z", allow_hyphen_values = true)]
        input_zero_point: Option<i32>,
        /// Module, with a model name (default: the registry's).
        #[arg(long)]
        module: Option<String>,
        /// With dinov2-vit-base-p14: use the first-upload file installed by `glocal fetch --first-upload --from`.
        #[arg(long)]
        first_upload: bool,
        /// No progress bar, notes or cautions.
        #[arg(short, long)]
        quiet: bool,
        /// Network timeout in seconds when a model must be fetched.
        #[arg(long, default_value_t = fetch::DEFAULT_TIMEOUT_SECS, value_name = "SECS")]
        timeout: u64,
    },
    /// Print every header field of a blob, its checksum status, sizes and the kernel that would run.
    Inspect {
        /// The blob file.
        blob: PathBuf,
    },
    /// List the twelve published gLocal transforms.
    Models {
        /// Full sha256 and the path in the gLocal repository.
        #[arg(long)]
        long: bool,
    },
    /// Download a published transform into the cache (sha256-verified when pinned); prints its path.
    Fetch {
        /// Model name (see `glocal models`).
        model: String,
        /// Module (default: the registry's).
        #[arg(long)]
        module: Option<String>,
        /// Install this local transform.npz instead of downloading (verified the same way).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// dinov2-vit-base-p14 only: accept the distinct first-upload file (gLocal commit d1860d3,
        /// sha256 9cf041b7...) instead of the published duplicate of dino-vit-base-p16's; needs --from.
        #[arg(long, requires = "from")]
        first_upload: bool,
        /// Download again even if cached.
        #[arg(long)]
        force: bool,
        /// No notes or progress.
        #[arg(short, long)]
        quiet: bool,
        /// Network timeout in seconds (connect, response, and each read).
        #[arg(long, default_value_t = fetch::DEFAULT_TIMEOUT_SECS, value_name = "SECS")]
        timeout: u64,
    },
    /// Write a blob as C source plus a header: a 64-byte aligned `const uint8_t SYMBOL[]` and `SYMBOL_len`.
    EmitC {
        /// The blob file.
        blob: PathBuf,
        /// Output .c file; the header is written beside it with extension .h.
        #[arg(short, long)]
        output: PathBuf,
        /// C identifier of the array.
        #[arg(long)]
        symbol: String,
        /// Linker section to place the array in (GCC/Clang/MSVC).
        #[arg(long)]
        section: Option<String>,
    },
    /// Write a blob as Rust source: a 64-byte aligned `pub static SYMBOL: &[u8]`.
    EmitRs {
        /// The blob file.
        blob: PathBuf,
        /// Output .rs file.
        #[arg(short, long)]
        output: PathBuf,
        /// Rust identifier of the static.
        #[arg(long)]
        symbol: String,
        /// Linker section to place the bytes in.
        #[arg(long)]
        section: Option<String>,
    },
}

/// Values of `--max-error` and `--input-scale`: finite and > 0 (anything else is a usage
/// error, exit 2).
fn finite_positive<T: std::str::FromStr + Into<f64> + Copy>(s: &str) -> std::result::Result<T, String> {
    let v: T = s.trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
    let f: f64 = v.into();
    if f.is_finite() && f > 0.0 {
        Ok(v)
    } else {
        Err(format!("{s}: must be finite and > 0 (e.g. 1e-3)"))
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Pack { input, output, dtype, model, module, probe, max_error, quiet } => {
            pack::run(pack::PackArgs {
                input: &input,
                output: &output,
                dtype: dtype.weight(),
                model: model.as_deref(),
                module: module.as_deref(),
                probe,
                max_error,
                quiet,
            })
        }
        Command::Align {
            transform,
            features,
            output,
            dtype,
            out_dtype,
            normalize,
            threads,
            key,
            input_scale,
            input_zero_point,
            module,
            first_upload,
            quiet,
            timeout,
        } => align::run(align::AlignArgs {
            transform,
            features,
            output,
            dtype: dtype.map(WeightArg::weight),
            out_dtype: out_dtype.weight(),
            normalize,
            threads: usize::from(threads),
            key,
            input_scale,
            input_zero_point,
            module,
            first_upload,
            quiet,
            fetch: fetch::FetchOptions { timeout: Duration::from_secs(timeout.max(1)), force: false, quiet },
        }),
        Command::Inspect { blob } => inspect::run(&blob),
        Command::Models { long } => models::run(long),
        Command::Fetch { model, module, from, first_upload, force, quiet, timeout } => {
            let target = fetch::Target::new(&model, module.as_deref(), first_upload)?;
            let opts = fetch::FetchOptions { timeout: Duration::from_secs(timeout.max(1)), force, quiet };
            let (path, how) = fetch::fetch(&target, from.as_deref(), opts)?;
            for c in registry::cautions(
                target.entry.model,
                target.first_upload.then_some(registry::DINOV2_B14_FIRST_UPLOAD_STD),
            ) {
                ui::caution(quiet, &c);
            }
            if how == fetch::Fetched::Cached {
                ui::note(quiet, &format!("{} already cached and verified", target.label()));
            }
            ui::print_stdout(&format!("{}\n", path.display()))
        }
        Command::EmitC { blob, output, symbol, section } => {
            emit::run(emit::Lang::C, &blob, &output, &symbol, section.as_deref())
        }
        Command::EmitRs { blob, output, symbol, section } => {
            emit::run(emit::Lang::Rust, &blob, &output, &symbol, section.as_deref())
        }
    }
}

fn main() -> ExitCode {
    // A bug must still end in one line, not a panic report; unwinding drops (and so removes)
    // any temporary output file.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("glocal: internal error (please report): {what}{at}");
    }));
    // Ctrl-C: remove temporary files (outputs in progress, downloads) before exiting, so an
    // interrupted command leaves nothing behind. 130 = 128 + SIGINT, as shells report it.
    let _ = ctrlc::set_handler(|| {
        fileio::remove_pending();
        eprintln!("glocal: interrupted");
        std::process::exit(130);
    });
    let cli = Cli::parse();
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("glocal: {e}");
            ExitCode::from(if e.usage { 2 } else { 1 })
        }
        Err(_) => ExitCode::from(1),
    }
}
