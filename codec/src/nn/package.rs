//! Model packages and the registry of built-in models (spec/MODELS.md §5).
//!
//! A package is one safetensors file: the integer tensors of the model plus a
//! single metadata entry `"nzip"` holding a JSON object with at least `"arch"`
//! and `"name"`. Its identity is the SHA-256 of the file's bytes; frames record
//! that hash (and the name, for messages only), and a decoder uses a model only
//! when the hash matches. Built-in packages are embedded in the binary with
//! `include_bytes!` and found by hash, never by position or name.

use super::fixed::Requant;
use super::gru::GruLm;
use super::NnError;
use crate::models::cm::Prior;
use crate::models::image::ImgNet;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// The architecture string of [`GruLm`] packages.
pub const ARCH_GRU_LM: &str = "gru-lm-v1";

/// SHA-256 of a package: its identity.
pub fn package_id(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The JSON configuration stored in a package.
pub fn package_config(bytes: &[u8]) -> Result<serde_json::Value, NnError> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| NnError::Package(e.to_string()))?;
    let text = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("nzip"))
        .ok_or_else(|| NnError::Package("no \"nzip\" metadata entry".into()))?;
    serde_json::from_str(text).map_err(|e| NnError::Package(format!("metadata: {e}")))
}

/// The bytes of tensor `name`, checked to have `dtype` and `shape`.
pub(crate) fn tensor<'a>(
    st: &SafeTensors<'a>,
    name: &str,
    dtype: Dtype,
    shape: &[usize],
) -> Result<&'a [u8], NnError> {
    let t = st.tensor(name).map_err(|_| NnError::Package(format!("missing tensor {name}")))?;
    if t.dtype() != dtype || t.shape() != shape {
        return Err(NnError::Package(format!(
            "tensor {name} is {:?} {:?}, expected {dtype:?} {shape:?}",
            t.dtype(),
            t.shape()
        )));
    }
    Ok(t.data())
}

/// Little-endian 32-bit integers.
pub(crate) fn le_i32(b: &[u8]) -> Vec<i32> {
    b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn le_i16(b: &[u8]) -> Vec<i32> {
    b.chunks_exact(2).map(|c| i32::from(i16::from_le_bytes([c[0], c[1]]))).collect()
}

fn config_usize(cfg: &serde_json::Value, key: &str) -> Result<usize, NnError> {
    cfg.get(key)
        .and_then(serde_json::Value::as_u64)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| NnError::Package(format!("config has no integer \"{key}\"")))
}

/// Loads a [`GruLm`] package, validating every tensor.
///
/// Tensors: `gx` I16 `[vocab, 3H]`, `w` I8 `[3H + vocab, H]`, `w_mult` I32
/// `[3H + vocab]`, `w_shift` U8 `[3H + vocab]`, `b_hn` I32 `[H]`, `b_out` I32
/// `[vocab]`; config keys `arch = "gru-lm-v1"`, `vocab`, `hidden`.
///
/// # Errors
///
/// [`NnError::Package`] for anything malformed.
pub fn load_gru(bytes: &[u8]) -> Result<GruLm, NnError> {
    let cfg = package_config(bytes)?;
    if cfg.get("arch").and_then(|a| a.as_str()) != Some(ARCH_GRU_LM) {
        return Err(NnError::Package(format!("architecture is not {ARCH_GRU_LM}")));
    }
    let vocab = config_usize(&cfg, "vocab")?;
    let hidden = config_usize(&cfg, "hidden")?;
    if !(2..=super::gru::MAX_VOCAB).contains(&vocab) || !(1..=super::gru::MAX_HIDDEN).contains(&hidden) {
        return Err(NnError::Package("vocabulary or hidden size out of range".into()));
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| NnError::Package(e.to_string()))?;
    let rows = 3 * hidden + vocab;
    let gx = le_i16(tensor(&st, "gx", Dtype::I16, &[vocab, 3 * hidden])?);
    let w: Vec<i8> = tensor(&st, "w", Dtype::I8, &[rows, hidden])?.iter().map(|&b| b as i8).collect();
    let mult = le_i32(tensor(&st, "w_mult", Dtype::I32, &[rows])?);
    let shift = tensor(&st, "w_shift", Dtype::U8, &[rows])?;
    let requant = mult.iter().zip(shift).map(|(&mult, &shift)| Requant { mult, shift }).collect();
    let b_hn = le_i32(tensor(&st, "b_hn", Dtype::I32, &[hidden])?);
    let b_out = le_i32(tensor(&st, "b_out", Dtype::I32, &[vocab])?);
    GruLm::new(vocab, hidden, gx, w, requant, b_hn, b_out)
}

/// The integer parameters of a [`GruLm`], as the export step produces them.
#[derive(Debug, Clone)]
pub struct GruParams {
    /// Alphabet size.
    pub vocab: usize,
    /// Hidden size.
    pub hidden: usize,
    /// `[vocab][3H]`, Q8, within i16.
    pub gx: Vec<i16>,
    /// `[3H + vocab][H]`.
    pub w: Vec<i8>,
    /// One per row of `w`.
    pub requant: Vec<Requant>,
    /// `[H]`, Q8.
    pub b_hn: Vec<i32>,
    /// `[vocab]`, Q8.
    pub b_out: Vec<i32>,
}

/// Writes a [`GruLm`] package. `config` is merged into the metadata JSON
/// (`arch`, `vocab` and `hidden` are set here). The bytes depend only on the
/// arguments.
///
/// # Errors
///
/// [`NnError::Package`] when the sizes are inconsistent.
pub fn save_gru(
    p: &GruParams,
    config: serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<u8>, NnError> {
    let mut cfg = config;
    cfg.insert("arch".into(), ARCH_GRU_LM.into());
    cfg.insert("vocab".into(), p.vocab.into());
    cfg.insert("hidden".into(), p.hidden.into());
    let rows = 3 * p.hidden + p.vocab;
    let gx: Vec<u8> = p.gx.iter().flat_map(|v| v.to_le_bytes()).collect();
    let w: Vec<u8> = p.w.iter().map(|&v| v as u8).collect();
    let mult: Vec<u8> = p.requant.iter().flat_map(|r| r.mult.to_le_bytes()).collect();
    let shift: Vec<u8> = p.requant.iter().map(|r| r.shift).collect();
    let b_hn: Vec<u8> = p.b_hn.iter().flat_map(|v| v.to_le_bytes()).collect();
    let b_out: Vec<u8> = p.b_out.iter().flat_map(|v| v.to_le_bytes()).collect();
    let err = |e: safetensors::SafeTensorError| NnError::Package(e.to_string());
    let views = vec![
        ("b_hn", TensorView::new(Dtype::I32, vec![p.hidden], &b_hn).map_err(err)?),
        ("b_out", TensorView::new(Dtype::I32, vec![p.vocab], &b_out).map_err(err)?),
        ("gx", TensorView::new(Dtype::I16, vec![p.vocab, 3 * p.hidden], &gx).map_err(err)?),
        ("w", TensorView::new(Dtype::I8, vec![rows, p.hidden], &w).map_err(err)?),
        ("w_mult", TensorView::new(Dtype::I32, vec![rows], &mult).map_err(err)?),
        ("w_shift", TensorView::new(Dtype::U8, vec![rows], &shift).map_err(err)?),
    ];
    // serde_json's map is ordered (BTreeMap): the JSON text is canonical.
    let meta = HashMap::from([("nzip".to_owned(), serde_json::Value::Object(cfg).to_string())]);
    let bytes = safetensors::serialize(views, Some(meta)).map_err(err)?;
    load_gru(&bytes)?; // everything written must load
    Ok(bytes)
}

/// What a built-in package holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinKind {
    /// A `gru-lm-v1` language model (method `lm`).
    GruLm,
    /// A `cm-prior-v1` prior (method `cm2`).
    CmPrior,
    /// An `img-mlp-v1` image network (method `imgnn`).
    ImgNet,
}

/// A loaded built-in package.
#[derive(Debug, Clone)]
enum Loaded {
    Gru(Arc<GruLm>),
    CmPrior(Arc<Prior>),
    ImgNet(Arc<ImgNet>),
}

/// A model built into this binary.
#[derive(Debug)]
pub struct Builtin {
    /// Name, for the command line and messages (not an identity).
    pub name: &'static str,
    /// One line for `nzip --help` and the spec.
    pub summary: &'static str,
    /// What the package holds.
    pub kind: BuiltinKind,
    /// The package's file in `codec/weights/` (the file the id is the
    /// SHA-256 of).
    pub file: &'static str,
    /// What the binary holds: a language model's package itself; a prior's
    /// content (the safetensors file inside the package's zstd frame) as an
    /// LZ4 block with its size prepended, packed by `build.rs` because it
    /// decodes about ten times faster than zstd (a test checks that the two
    /// hold the same bytes).
    stored: &'static [u8],
    /// Size of the package in bytes.
    package_len: usize,
    /// SHA-256 of the package, written in the source (a test checks it), so
    /// that no process spends milliseconds hashing megabytes to find a model.
    id: [u8; 32],
    model: OnceLock<Result<Loaded, String>>,
}

/// The 32 bytes written as 64 hex digits in `hex` (at compile time: a
/// malformed constant does not build).
const fn hex32(hex: &str) -> [u8; 32] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let h = hex.as_bytes();
    assert!(h.len() == 64, "an id is 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = digit(h[2 * i]) << 4 | digit(h[2 * i + 1]);
        i += 1;
    }
    out
}

impl Builtin {
    #[allow(clippy::too_many_arguments)]
    const fn new(
        name: &'static str,
        summary: &'static str,
        kind: BuiltinKind,
        file: &'static str,
        stored: &'static [u8],
        package_len: usize,
        sha256: &str,
    ) -> Self {
        Builtin { name, summary, kind, file, stored, package_len, id: hex32(sha256), model: OnceLock::new() }
    }

    /// Size of the package in bytes.
    pub fn package_len(&self) -> usize {
        self.package_len
    }

    /// The package's content: a language model's package, or the
    /// safetensors file inside a prior's package (what [`Prior::inflate`]
    /// returns for it).
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if the packed bytes are broken (a build defect,
    /// caught by the tests).
    pub fn content(&self) -> Result<std::borrow::Cow<'static, [u8]>, NnError> {
        match self.kind {
            BuiltinKind::GruLm | BuiltinKind::ImgNet => Ok(self.stored.into()),
            BuiltinKind::CmPrior => Prior::unpack(self.stored).map(Into::into),
        }
    }

    /// SHA-256 of the package.
    pub fn id(&self) -> &[u8; 32] {
        &self.id
    }

    /// The reference a frame header makes to this model.
    pub fn model_ref(&self) -> nzip_format::ModelRef {
        nzip_format::ModelRef { id: self.id.to_vec(), name: self.name.to_owned() }
    }

    /// The package's metadata JSON (for a prior, from inside its zstd frame).
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if the package is broken.
    pub fn config(&self) -> Result<serde_json::Value, NnError> {
        package_config(&self.content()?)
    }

    /// The package, parsed once per process.
    fn loaded(&self) -> Result<Loaded, NnError> {
        self.model
            .get_or_init(|| {
                match self.kind {
                    BuiltinKind::GruLm => load_gru(self.stored).map(|m| Loaded::Gru(Arc::new(m))),
                    BuiltinKind::CmPrior => {
                        Prior::from_packed(self.stored).map(|p| Loaded::CmPrior(Arc::new(p)))
                    }
                    BuiltinKind::ImgNet => ImgNet::load(self.stored).map(|m| Loaded::ImgNet(Arc::new(m))),
                }
                .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(NnError::Package)
    }

    /// The loaded language model.
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if the package is not a language model or is
    /// broken (a build defect, caught by the tests).
    pub fn gru(&self) -> Result<Arc<GruLm>, NnError> {
        match self.loaded()? {
            Loaded::Gru(m) => Ok(m),
            _ => Err(NnError::Package(format!("{} is not a language model", self.name))),
        }
    }

    /// The loaded image network.
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if the package is not an image network or is broken.
    pub fn img_net(&self) -> Result<Arc<ImgNet>, NnError> {
        match self.loaded()? {
            Loaded::ImgNet(m) => Ok(m),
            _ => Err(NnError::Package(format!("{} is not an image network", self.name))),
        }
    }

    /// The loaded cm prior.
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if the package is not a cm prior or is broken.
    pub fn cm_prior(&self) -> Result<Arc<Prior>, NnError> {
        match self.loaded()? {
            Loaded::CmPrior(p) => Ok(p),
            _ => Err(NnError::Package(format!("{} is not a cm prior", self.name))),
        }
    }
}

// The priors packed by build.rs: `TEXT_PRIOR_6_LZ4`, `TEXT_PRIOR_6_PACKAGE_LEN`.
include!(concat!(env!("OUT_DIR"), "/priors.rs"));

/// The language models' packages, held as they are.
const BYTE_GRU_S: &[u8] = include_bytes!("../../weights/byte-gru-s.safetensors");
const BYTE_GRU_M: &[u8] = include_bytes!("../../weights/byte-gru-m.safetensors");
/// The image network's package (levels 2-6 until img-mlp-r).
const IMG_MLP_P: &[u8] = include_bytes!("../../weights/img-mlp-p.safetensors");
/// The wider image network's package (levels 7-9 until img-mlp-s).
const IMG_MLP_Q: &[u8] = include_bytes!("../../weights/img-mlp-q.safetensors");
/// The image network of levels 2-6, retrained on every train-split photo.
const IMG_MLP_R: &[u8] = include_bytes!("../../weights/img-mlp-r.safetensors");
/// The wider image network of levels 7-9, retrained on every train-split photo.
const IMG_MLP_S: &[u8] = include_bytes!("../../weights/img-mlp-s.safetensors");

static BUILTINS: [Builtin; 7] = [
    Builtin::new(
        "byte-gru-s",
        "byte-level GRU language model (H=128, int8), trained on the corpus train split (text)",
        BuiltinKind::GruLm,
        "byte-gru-s.safetensors",
        BYTE_GRU_S,
        BYTE_GRU_S.len(),
        "b4edce755dab64a86c07875557cf593dc07286942166611bf7421a8fe85e6298",
    ),
    Builtin::new(
        "text-prior-6",
        "cm2 level-6 prior: the context model's state after reading the corpus train split (text)",
        BuiltinKind::CmPrior,
        "text-prior-6.nzprior",
        TEXT_PRIOR_6_LZ4,
        TEXT_PRIOR_6_PACKAGE_LEN,
        "530a36dcf3d94f572ddd0121a3e9057ce5a5f6da7f015f970255b0031e5d001c",
    ),
    Builtin::new(
        "byte-gru-m",
        "byte-level GRU language model (H=256, int8) that -9 mixes into text (method cmlm2)",
        BuiltinKind::GruLm,
        "byte-gru-m.safetensors",
        BYTE_GRU_M,
        BYTE_GRU_M.len(),
        "5706fd6bab1f38041ada5ab936c8972e31974fe44a0a2eed0fa243df283177ff",
    ),
    Builtin::new(
        "img-mlp-p",
        "image network (48 features, two hidden layers of 32, int8) that -2..-6 mixed into img frames before img-mlp-r (method imgnn)",
        BuiltinKind::ImgNet,
        "img-mlp-p.safetensors",
        IMG_MLP_P,
        IMG_MLP_P.len(),
        "3a10a66ffc1822b74f584f419d0eca8db581e55b348f19881dfacc1df64e3420",
    ),
    Builtin::new(
        "img-mlp-q",
        "image network (48 features, two hidden layers of 64, int8) that -7..-9 mixed into img frames before img-mlp-s (method imgnn)",
        BuiltinKind::ImgNet,
        "img-mlp-q.safetensors",
        IMG_MLP_Q,
        IMG_MLP_Q.len(),
        "76410110b638d97e13ef6152717089ccd8d02b5f8e731b1c280d2d95bfdde95e",
    ),
    Builtin::new(
        "img-mlp-r",
        "image network (48 features, two hidden layers of 32, int8; every train photo, native ones in full) that -2..-6 mix into img frames (method imgnn)",
        BuiltinKind::ImgNet,
        "img-mlp-r.safetensors",
        IMG_MLP_R,
        IMG_MLP_R.len(),
        "92dc7ed8f951e32611116731c8258d8e0a4cc6000a2ae0e6efb18c45b536f4f7",
    ),
    Builtin::new(
        "img-mlp-s",
        "image network (48 features, two hidden layers of 64, int8; every train photo, native ones in full) that -7..-9 mix into img frames (method imgnn)",
        BuiltinKind::ImgNet,
        "img-mlp-s.safetensors",
        IMG_MLP_S,
        IMG_MLP_S.len(),
        "1e3c404ec1e721bac46f16d5464a760a837fcabbfb6ef8f2a72639b65777bf4b",
    ),
];

/// Every built-in model.
pub fn builtins() -> &'static [Builtin] {
    &BUILTINS
}

/// The built-in model with this content hash.
pub fn find_by_id(id: &[u8]) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.id().as_slice() == id)
}

/// The built-in model with this name.
pub fn find_by_name(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The built-in cm prior for `level`, if this build has one.
pub fn cm_prior_for_level(level: u8) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.kind == BuiltinKind::CmPrior && b.name == format!("text-prior-{level}"))
}
