//! Helpers shared by the training examples.

use std::path::Path;

/// The value after `name` on the command line, or `default`.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every `text/*` file of the manifest whose split is `train`, in manifest
/// order: (path relative to `corpus`, its first `per_file` bytes).
pub fn train_text(
    manifest: &Path,
    corpus: &Path,
    per_file: usize,
) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for line in std::fs::read_to_string(manifest)?.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 || !f[0].starts_with("text/") || f[3] != "train" {
            continue;
        }
        let mut bytes = std::fs::read(corpus.join(f[0]))?;
        bytes.truncate(per_file);
        out.push((f[0].to_owned(), bytes));
    }
    Ok(out)
}
