//! Pretrained priors for `cm2` (spec/MODELS.md §3.11): the learned state of a
//! revision-2 model after it has read the training data, stored as a model
//! package, so that every chunk starts knowing the statistics of text instead
//! of from nothing.

use super::hash::TablePool;
use super::model::{Model, PriorParts};
use crate::nn::package::{le_i32, tensor};
use crate::nn::NnError;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The architecture string of prior packages.
pub const ARCH_CM_PRIOR: &str = "cm-prior-v1";

/// Most bytes an inflated prior package may have (its tables).
pub const MAX_PRIOR_BYTES: usize = 1 << 26;

/// A pretrained starting state for the revision-2 model of one level.
#[derive(Debug)]
pub struct Prior {
    level: u8,
    /// The prior's model without its table (which `tables` holds).
    model: Model,
    tables: Tables,
    /// Tables of dropped models, restored to the prior's table for the next
    /// ones by copying only what they may have written (see [`TablePool`]).
    pool: Arc<TablePool>,
}

/// Where the prior's table (16 MiB at level 6) and each model's copy of it
/// come from. A model takes a spare table from the pool when there is one
/// (a frame of many chunks), else a copy.
#[derive(Debug)]
enum Tables {
    /// The table itself.
    Kept(Vec<u8>),
    /// The prior's content is an LZ4 block ([`Prior::from_packed`], a
    /// built-in prior): the table inflated at load goes to the first model,
    /// so that a process that codes one chunk inflates it once and copies
    /// nothing. The table is inflated again, and kept, only when a second
    /// model is made.
    Packed { block: &'static [u8], first: Mutex<Option<Vec<u8>>>, kept: OnceLock<Result<Vec<u8>, String>> },
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
        Prior::with_kept_table(level, m)
    }

    /// The level whose configuration the prior holds.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// A model that starts from this prior and will code `len` bytes.
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if a packed prior's block no longer inflates to
    /// its table (it did at load, so only a defect or running out of memory
    /// gets here).
    pub fn model(&self, len: u64) -> Result<Model, NnError> {
        let first = match &self.tables {
            // A poisoned lock only means another thread panicked.
            Tables::Packed { first, .. } => first.lock().ok().and_then(|mut f| f.take()),
            Tables::Kept(_) => None,
        };
        let table = match first {
            Some(t) => t,
            None => {
                let pristine = self.table()?;
                self.pool.take(pristine).unwrap_or_else(|| pristine.to_vec())
            }
        };
        Model::from_prior_and_table(&self.model, self.level, len, table, Some(Arc::clone(&self.pool)))
            .ok_or_else(|| NnError::Package("cm prior: the table changed length".into()))
    }

    /// The prior's table (for a packed prior, inflated on first use).
    fn table(&self) -> Result<&[u8], NnError> {
        match &self.tables {
            Tables::Kept(t) => Ok(t),
            Tables::Packed { block, kept, .. } => kept
                .get_or_init(|| Prior::unpack(block).and_then(table_of).map_err(|e| e.to_string()))
                .as_deref()
                .map_err(|e| NnError::Package(e.clone())),
        }
    }

    /// The prior whose model is `m`, its table taken out and kept.
    fn with_kept_table(level: u8, mut m: Model) -> Prior {
        let table = m.take_table();
        Prior { level, model: m, tables: Tables::Kept(table), pool: Arc::default() }
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
        let mut p = self.model.prior_parts();
        p.table = self.table()?.to_vec();
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

    /// The content of a package (what [`Prior::inflate`] returns) from an LZ4
    /// block with its size prepended (how the binary holds a built-in prior,
    /// packed by `build.rs`).
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if the block is broken or inflates to more than
    /// [`MAX_PRIOR_BYTES`].
    pub fn unpack(block: &[u8]) -> Result<Vec<u8>, NnError> {
        let bad = |m: String| NnError::Package(format!("cm prior: {m}"));
        let size = block.get(..4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        if size > MAX_PRIOR_BYTES {
            return Err(bad(format!("packed content of {size} bytes")));
        }
        lz4_flex::block::decompress_size_prepended(block).map_err(|e| bad(e.to_string()))
    }

    /// Loads a prior held as [`Prior::unpack`]'s LZ4 block: as
    /// [`Prior::from_inflated`], but each model inflates its own table from
    /// `block` instead of copying one kept by the prior (see [`Prior::model`]).
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] for anything malformed.
    pub fn from_packed(block: &'static [u8]) -> Result<Prior, NnError> {
        let mut p = Prior::from_inflated(Prior::unpack(block)?)?;
        if let Tables::Kept(table) = &mut p.tables {
            let first = Mutex::new(Some(std::mem::take(table)));
            p.tables = Tables::Packed { block, first, kept: OnceLock::new() };
        }
        Ok(p)
    }

    /// Loads a package written by [`Prior::to_package`], validating every
    /// tensor's type and shape against the level's configuration.
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] for anything malformed.
    pub fn from_package(bytes: &[u8]) -> Result<Prior, NnError> {
        Prior::from_inflated(Prior::inflate(bytes)?)
    }

    /// Loads the safetensors file inside a package ([`Prior::inflate`]).
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] for anything malformed.
    pub fn from_inflated(raw: Vec<u8>) -> Result<Prior, NnError> {
        let bad = |m: &str| NnError::Package(format!("cm prior: {m}"));
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
        let mut parts = PriorParts {
            table: Vec::new(),
            maps: le_i32(tensor(&st, "maps", Dtype::U32, &[len("maps") / 256, 256])?)
                .into_iter()
                .map(|v| v as u32)
                .collect(),
            mixer: le_i32(tensor(&st, "mixer", Dtype::I32, &[len("mixer")])?),
            apm1: u16s(tensor(&st, "apm1", Dtype::U16, &[len("apm1")])?),
        };
        let table = table_range(&st, &raw)?;
        drop(st);
        parts.table = cut(raw, table);
        let model = Model::prior_from_parts(level, parts)
            .ok_or_else(|| bad("tensor shapes do not match the level"))?;
        Ok(Prior::with_kept_table(level, model))
    }
}

/// The `table` tensor of a prior's content `raw`, in `raw`'s own memory
/// (the tensor is moved to its start and the rest cut off, instead of a
/// 16 MiB copy).
fn table_of(raw: Vec<u8>) -> Result<Vec<u8>, NnError> {
    let range =
        table_range(&SafeTensors::deserialize(&raw).map_err(|e| NnError::Package(e.to_string()))?, &raw)?;
    Ok(cut(raw, range))
}

/// Where the `table` tensor of `st` (parsed from `raw`) lies in `raw`.
fn table_range(st: &SafeTensors<'_>, raw: &[u8]) -> Result<std::ops::Range<usize>, NnError> {
    let len = st.tensor("table").map(|t| t.shape().iter().product::<usize>()).unwrap_or(0);
    let table = tensor(st, "table", Dtype::U8, &[len])?;
    // Address arithmetic only: the tensor is a slice of `raw`.
    let at = table.as_ptr() as usize - raw.as_ptr() as usize;
    Ok(at..at + table.len())
}

/// `raw[range]` in `raw`'s own memory (moved to its start, the rest cut off).
fn cut(mut raw: Vec<u8>, range: std::ops::Range<usize>) -> Vec<u8> {
    raw.truncate(range.end);
    raw.drain(..range.start);
    raw
}
