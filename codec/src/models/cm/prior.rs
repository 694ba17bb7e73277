//! Pretrained priors for `cm2` (spec/MODELS.md §3.11): the learned state of a
//! revision-2 model after it has read the training data, stored as a model
//! package, so that every chunk starts knowing the statistics of text instead
//! of from nothing.

use super::model::{Model, PriorParts};
use crate::nn::package::{le_i32, tensor};
use crate::nn::NnError;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::HashMap;

/// The architecture string of prior packages.
pub const ARCH_CM_PRIOR: &str = "cm-prior-v1";

/// Most bytes an inflated prior package may have (its tables).
pub const MAX_PRIOR_BYTES: usize = 1 << 26;

/// A pretrained starting state for the revision-2 model of one level.
#[derive(Debug, Clone)]
pub struct Prior {
    level: u8,
    model: Model,
}

impl Prior {
    /// Trains the prior of `level` (clamped to 1..=9): a fresh
    /// [`Model::new_prior_base`] reads `parts` in order, bit by bit as when
    /// coding, then [`Model::finish_prior`].
    pub fn train(level: u8, parts: &[&[u8]]) -> Prior {
        let level = level.clamp(super::MIN_LEVEL, super::MAX_LEVEL);
        let mut m = Model::new_prior_base(level);
        for data in parts {
            for &byte in *data {
                for k in (0..8).rev() {
                    let bit = (byte >> k) & 1 != 0;
                    let _ = m.p();
                    m.update(bit);
                }
            }
        }
        m.finish_prior();
        Prior { level, model: m }
    }

    /// The level whose configuration the prior holds.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// A model that starts from this prior and will code `len` bytes.
    pub fn model(&self, len: u64) -> Model {
        Model::from_prior(&self.model, self.level, len)
    }

    /// The package: a zstd frame (level 19) of a safetensors file with the
    /// tensors `table` U8, `maps` U32 `[contexts, 256]`, `mixer` I32 and
    /// `apm1` U16, and the metadata JSON `config` merged with `arch` and
    /// `level`. The bytes depend only on the prior, `config` and the zstd
    /// library's encoder (any later change to those makes a new package).
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if serialisation fails.
    pub fn to_package(&self, config: serde_json::Map<String, serde_json::Value>) -> Result<Vec<u8>, NnError> {
        let p = self.model.prior_parts();
        let mut cfg = config;
        cfg.insert("arch".into(), ARCH_CM_PRIOR.into());
        cfg.insert("level".into(), self.level.into());
        let maps: Vec<u8> = p.maps.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mixer: Vec<u8> = p.mixer.iter().flat_map(|v| v.to_le_bytes()).collect();
        let apm1: Vec<u8> = p.apm1.iter().flat_map(|v| v.to_le_bytes()).collect();
        let err = |e: safetensors::SafeTensorError| NnError::Package(e.to_string());
        let views = vec![
            ("apm1", TensorView::new(Dtype::U16, vec![p.apm1.len()], &apm1).map_err(err)?),
            ("maps", TensorView::new(Dtype::U32, vec![p.maps.len() / 256, 256], &maps).map_err(err)?),
            ("mixer", TensorView::new(Dtype::I32, vec![p.mixer.len()], &mixer).map_err(err)?),
            ("table", TensorView::new(Dtype::U8, vec![p.table.len()], &p.table).map_err(err)?),
        ];
        let meta = HashMap::from([("nzip".to_owned(), serde_json::Value::Object(cfg).to_string())]);
        let raw = safetensors::serialize(views, Some(meta)).map_err(err)?;
        let bytes = zstd::bulk::compress(&raw, 19).map_err(|e| NnError::Package(e.to_string()))?;
        Prior::from_package(&bytes)?; // everything written must load
        Ok(bytes)
    }

    /// The safetensors file inside a package (at most [`MAX_PRIOR_BYTES`]).
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if the zstd frame is broken or too large.
    pub fn inflate(bytes: &[u8]) -> Result<Vec<u8>, NnError> {
        // Fails (without allocating more) if the content exceeds the limit.
        zstd::bulk::decompress(bytes, MAX_PRIOR_BYTES).map_err(|e| NnError::Package(format!("cm prior: {e}")))
    }

    /// Loads a package written by [`Prior::to_package`], validating every
    /// tensor's type and shape against the level's configuration.
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] for anything malformed.
    pub fn from_package(bytes: &[u8]) -> Result<Prior, NnError> {
        let bad = |m: &str| NnError::Package(format!("cm prior: {m}"));
        let mut raw = Prior::inflate(bytes)?;
        let cfg = crate::nn::package::package_config(&raw)?;
        if cfg.get("arch").and_then(|a| a.as_str()) != Some(ARCH_CM_PRIOR) {
            return Err(bad("architecture is not cm-prior-v1"));
        }
        let level = cfg
            .get("level")
            .and_then(serde_json::Value::as_u64)
            .filter(|l| (u64::from(super::MIN_LEVEL)..=u64::from(super::MAX_LEVEL)).contains(l))
            .ok_or_else(|| bad("no level in 1..=9"))? as u8;
        let st = SafeTensors::deserialize(&raw).map_err(|e| NnError::Package(e.to_string()))?;
        let len = |name: &str| st.tensor(name).map(|t| t.shape().iter().product::<usize>()).unwrap_or(0);
        let u16s = |b: &[u8]| b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>();
        let table = tensor(&st, "table", Dtype::U8, &[len("table")])?;
        // Where the table lies in `raw` (address arithmetic only), so that
        // `raw` itself becomes the table below instead of a 16 MiB copy.
        let (start, end) = {
            let at = table.as_ptr() as usize - raw.as_ptr() as usize;
            (at, at + table.len())
        };
        let mut parts = PriorParts {
            table: Vec::new(),
            maps: le_i32(tensor(&st, "maps", Dtype::U32, &[len("maps") / 256, 256])?)
                .into_iter()
                .map(|v| v as u32)
                .collect(),
            mixer: le_i32(tensor(&st, "mixer", Dtype::I32, &[len("mixer")])?),
            apm1: u16s(tensor(&st, "apm1", Dtype::U16, &[len("apm1")])?),
        };
        drop(st);
        raw.truncate(end);
        raw.drain(..start);
        parts.table = raw;
        let model = Model::prior_from_parts(level, parts)
            .ok_or_else(|| bad("tensor shapes do not match the level"))?;
        Ok(Prior { level, model })
    }
}
