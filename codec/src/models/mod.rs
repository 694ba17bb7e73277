//! Probability models, one folder per family.

pub mod cm;
pub mod cmlm;
pub mod image;
pub mod lm;
