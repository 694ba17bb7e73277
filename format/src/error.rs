//! The one error type of the crate, split by who is to blame.

use std::fmt;
use std::io;

/// Where in the input a problem was found: a byte offset from the start of
/// the stream (across concatenated frames).
pub type Offset = u64;

/// Everything that can go wrong reading or writing a `.nz` stream.
///
/// The variants say who is to blame, so callers can react: [`Error::Io`] is the
/// environment; [`Error::NotNzip`], [`Error::Truncated`], [`Error::Malformed`]
/// and [`Error::Checksum`] are damaged input; [`Error::Unsupported`] is a valid
/// file this build cannot decode (a newer format version, or an unknown
/// critical section, method or model); [`Error::LimitExceeded`] is a file that
/// asks for more resources than the caller allowed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the underlying stream failed.
    Io(io::Error),
    /// The input does not start with the nzip magic number.
    NotNzip,
    /// The input ends in the middle of a frame.
    Truncated {
        /// Offset at which more bytes were expected.
        offset: Offset,
    },
    /// The input violates the format specification.
    Malformed {
        /// What is wrong, in plain words (cites the spec's rule).
        what: &'static str,
        /// Offset of the offending section or field.
        offset: Offset,
    },
    /// A checksum did not match: the data was damaged after it was written.
    Checksum {
        /// Which checksum failed (section CRC, chunk content CRC, content hash).
        what: &'static str,
        /// Offset of the section whose check failed.
        offset: Offset,
    },
    /// A valid file that this build cannot decode.
    Unsupported(String),
    /// The file asks for more than the [`crate::Limits`] allow.
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The value found in the file.
        value: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The caller passed values that cannot be written (a writer-side misuse).
    InvalidInput(&'static str),
}

impl Error {
    /// True for errors that mean the input is damaged or is not an nzip file.
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            Error::NotNzip | Error::Truncated { .. } | Error::Malformed { .. } | Error::Checksum { .. }
        )
    }

    pub(crate) fn malformed(what: &'static str, offset: Offset) -> Self {
        Error::Malformed { what, offset }
    }

    /// Map an I/O error from reading the frame: an unexpected end of file is a
    /// truncated frame, everything else stays I/O.
    pub(crate) fn from_read(e: io::Error, offset: Offset) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Error::Truncated { offset }
        } else {
            Error::Io(e)
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::NotNzip => f.write_str("not an nzip (.nz) file: bad magic number"),
            Error::Truncated { offset } => {
                write!(f, "truncated .nz data: unexpected end of input at byte {offset}")
            }
            Error::Malformed { what, offset } => {
                write!(f, "corrupt .nz data at byte {offset}: {what}")
            }
            Error::Checksum { what, offset } => {
                write!(f, "corrupt .nz data: {what} mismatch (section at byte {offset})")
            }
            Error::Unsupported(what) => write!(f, "unsupported .nz feature: {what}"),
            Error::LimitExceeded { what, value, limit } => write!(
                f,
                "{what} is {value}, above this decoder's limit of {limit} (set by the caller's Limits)"
            ),
            Error::InvalidInput(what) => write!(f, "invalid input to the .nz writer: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::InvalidInput(_) => io::Error::new(io::ErrorKind::InvalidInput, e),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
