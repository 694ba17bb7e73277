//! # nzip-codec
//!
//! Lossless compression with adaptive and learned probability models, coded with
//! range coding or ANS (through [constriction]) into the `.nz` container
//! ([`nzip_format`], specified normatively in `spec/FORMAT.md`).
//!
//! Three levels of API, in the habit of zstd and lz4_flex:
//! - one-shot: [`compress_to_vec`] / [`decompress_to_vec`];
//! - streaming: [`compress`] / [`decompress`] from any [`std::io::Read`] to any
//!   [`std::io::Write`], in bounded memory (a few chunks);
//! - low level: the [`entropy`] coders and the [`models`].
//!
//! The laws this crate keeps (see `DESIGN.md` and `spec/`):
//! - every decode verifies per-chunk and whole-content checksums;
//! - the compressed bytes depend only on the input and the [`CompressOptions`]
//!   that are recorded in the file, never on the thread count or the machine;
//! - malformed input gives an [`Error`], never a panic;
//! - a chunk that would expand is stored, so output is at most the input plus
//!   the constant documented in `spec/FORMAT.md`.
//!
//! ```
//! let data = b"hello hello hello hello".repeat(10);
//! let packed = nzip_codec::compress_to_vec(&data, &nzip_codec::CompressOptions::default()).unwrap();
//! let restored = nzip_codec::decompress_to_vec(&packed, &nzip_codec::DecompressOptions::default()).unwrap();
//! assert_eq!(restored, data);
//! ```

pub mod entropy;
#[doc(hidden)]
pub mod fuzzing;
pub mod isa;
pub mod media;
pub mod models;
pub mod nn;
mod pipeline;
mod pipeline_image;

pub use nzip_format as format;
pub use pipeline::{
    compress, compress_to_vec, decompress, decompress_to_vec, default_chunk_size, list, CompressOptions,
    DecompressOptions, FrameSummary, Progress, Stats,
};
pub use pipeline_image::{image_net_for_level, image_nets_for_level, IMAGE_NET, IMAGE_NET_WIDE};

use std::fmt;

/// The coder that turns the model's probabilities into bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoderKind {
    /// Range coding (constriction's queue coder): first in, first out.
    Range,
    /// Asymmetric numeral systems (constriction's stack coder): last in, first out.
    Ans,
}

impl fmt::Display for CoderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CoderKind::Range => "range",
            CoderKind::Ans => "ans",
        })
    }
}

/// Everything that can go wrong, split by who is to blame.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the input or writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The compressed data is not a valid `.nz` file, is of an unsupported
    /// version or feature, or exceeds the decoder's limits.
    #[error(transparent)]
    Format(#[from] nzip_format::Error),
    /// The caller asked for something impossible (a level out of range, a GPU
    /// that this build does not have, ...). Nothing was read or written.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A learned model could not run (a device failure, or a broken built-in
    /// model). The input is not to blame.
    #[error("model error: {0}")]
    Model(String),
}

impl Error {
    /// True when the error says the compressed input is damaged or not an nzip
    /// file (as opposed to I/O trouble or a caller mistake).
    pub fn is_corrupt_input(&self) -> bool {
        matches!(self, Error::Format(e) if e.is_corrupt())
    }
}

impl From<nn::NnError> for Error {
    fn from(e: nn::NnError) -> Self {
        Error::Model(e.to_string())
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::InvalidArgument(m) => std::io::Error::new(std::io::ErrorKind::InvalidInput, m),
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
