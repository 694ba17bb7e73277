//! Modality front ends: recognise a file's format, take it apart into what a
//! model codes (samples) and what restores the original file exactly
//! (headers, metadata), and put it back together on decompression.
//!
//! - [`image`]: PNG and binary PNM/PAM (spec/FORMAT.md §4.6, §4.7).
//!
//! Anything a front end does not recognise, or cannot restore exactly, is
//! compressed as bytes: the byte path restores every file bit for bit.

pub mod image;
