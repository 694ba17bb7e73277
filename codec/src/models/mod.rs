//! Probability models, one folder per family.

pub mod cm;
pub mod image;
pub mod lm;
