//! Execution: compress, decompress, test and list each input in turn.

use crate::args::{DeviceArg, Input, Mode, OutputChoice, Settings};
use crate::files::{self, OutputError, OutputFile};
use crate::report::{describe, is_broken_pipe, Reporter, StatsLine};
use crate::verify::{self, VerifyError};
use crate::Status;
use nzip_codec::nn::Backend;
use nzip_codec::{CompressOptions, DecompressOptions, FrameSummary, Stats};
use serde::Serialize;
use std::fs::{self, File, Metadata};
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

/// I/O buffer size for inputs and outputs.
const BUF: usize = 1 << 20;

/// How one input ended, when it did not succeed.
#[derive(Debug)]
enum Failure {
    /// Skipped with a warning (exit status 2).
    Skip(String),
    /// Failed (exit status 1).
    Error(String),
    /// Standard output was closed by its reader: stop quietly.
    BrokenPipe,
}

impl Failure {
    fn from_codec(e: &nzip_codec::Error) -> Self {
        if is_broken_pipe(e) {
            Failure::BrokenPipe
        } else {
            Failure::Error(describe(e))
        }
    }

    fn from_write(e: &io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Error(format!("write error: {e}"))
        }
    }
}

impl From<OutputError> for Failure {
    fn from(e: OutputError) -> Self {
        Failure::Error(e.to_string())
    }
}

/// Run nzip over all inputs of `settings`; the worst status wins.
pub fn run(settings: &Settings) -> Status {
    let reporter = Reporter::new(settings.quiet, settings.verbose, settings.json, settings.progress);
    if settings.mode == Mode::List {
        return list_all(settings, &reporter);
    }
    let mut stdout = BufWriter::with_capacity(BUF, io::stdout().lock());
    let mut status = Status::Success;
    for input in &settings.inputs {
        let name = display_name(input);
        let result = match settings.mode {
            Mode::Compress => compress_one(settings, &reporter, input, &name, &mut stdout),
            Mode::Decompress | Mode::Test => decompress_one(settings, &reporter, input, &name, &mut stdout),
            Mode::List => Ok(()),
        };
        match result {
            Ok(()) => {}
            Err(Failure::Skip(msg)) => {
                reporter.warn(&name, &msg);
                status = status.worst(Status::Warning);
            }
            Err(Failure::Error(msg)) => {
                reporter.error(&name, &msg);
                status = status.worst(Status::Error);
            }
            Err(Failure::BrokenPipe) => return status,
        }
    }
    if let Err(e) = stdout.flush() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            reporter.error_general(&format!("standard output: write error: {e}"));
            status = status.worst(Status::Error);
        }
    }
    status
}

fn display_name(input: &Input) -> String {
    match input {
        Input::Stdin => "(stdin)".to_owned(),
        Input::Path(p) => p.display().to_string(),
    }
}

fn json_name(input: &Input) -> String {
    match input {
        Input::Stdin => "-".to_owned(),
        Input::Path(p) => p.display().to_string(),
    }
}

/// An opened input.
struct Source {
    reader: Box<dyn Read>,
    /// The file's metadata (for files), copied to the output.
    meta: Option<Metadata>,
    /// The content size, for regular files.
    size: Option<u64>,
}

/// Open an input; directories are skipped with a warning.
fn open_input(input: &Input) -> Result<Source, Failure> {
    match input {
        Input::Stdin => Ok(Source { reader: Box::new(io::stdin().lock()), meta: None, size: None }),
        Input::Path(path) => {
            let meta = fs::metadata(path).map_err(|e| Failure::Error(format!("cannot open: {e}")))?;
            if meta.is_dir() {
                return Err(Failure::Skip(
                    "is a directory -- ignored (nzip has no -r yet; use tar)".to_owned(),
                ));
            }
            let file = File::open(path).map_err(|e| Failure::Error(format!("cannot open: {e}")))?;
            let size = meta.is_file().then_some(meta.len());
            Ok(Source { reader: Box::new(BufReader::with_capacity(BUF, file)), meta: Some(meta), size })
        }
    }
}

/// Where one input's output goes.
enum Target {
    Stdout,
    File(PathBuf),
}

impl Target {
    fn display(&self) -> String {
        match self {
            Target::Stdout => "-".to_owned(),
            Target::File(p) => p.display().to_string(),
        }
    }
}

fn refuse_terminal_stdin(settings: &Settings, input: &Input) -> Result<(), Failure> {
    if *input == Input::Stdin && !settings.force && io::stdin().is_terminal() {
        return Err(Failure::Error(
            "refusing to read compressed data from a terminal; use -f to force, or redirect a file in"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Write the output of `work` to `target`: standard output directly, a file
/// through a temporary file committed only when `work` succeeds.
fn write_output<T>(
    settings: &Settings,
    target: &Target,
    input: &Input,
    meta: Option<&Metadata>,
    stdout: &mut dyn Write,
    work: impl FnOnce(&mut dyn Write) -> Result<T, Failure>,
) -> Result<T, Failure> {
    match target {
        Target::Stdout => {
            let t = work(stdout)?;
            stdout.flush().map_err(|e| Failure::from_write(&e))?;
            Ok(t)
        }
        Target::File(dest) => {
            let input_path = match input {
                Input::Path(p) => Some(p.as_path()),
                Input::Stdin => None,
            };
            let out = OutputFile::create(dest, input_path, settings.force)?;
            let mut w = BufWriter::with_capacity(BUF, out.file());
            let t = work(&mut w)?;
            w.flush().map_err(|e| Failure::Error(format!("cannot write {}: {e}", dest.display())))?;
            drop(w);
            // Sync before the input is removed, so that a crash cannot lose both.
            out.commit(meta, settings.remove_input)?;
            Ok(t)
        }
    }
}

/// Remove the input after success when `--rm` was given and the output is a file.
fn remove_input(settings: &Settings, input: &Input, target: &Target) -> Result<(), Failure> {
    if let (true, Input::Path(p), Target::File(_)) = (settings.remove_input, input, target) {
        fs::remove_file(p).map_err(|e| {
            Failure::Error(format!("output written, but the input could not be removed: {e}"))
        })?;
    }
    Ok(())
}

fn backend(settings: &Settings) -> Result<Backend, Failure> {
    Ok(match settings.device {
        DeviceArg::Cpu => Backend::Cpu,
        DeviceArg::Scalar => Backend::Scalar,
        DeviceArg::Candle => Backend::candle_cpu(),
        DeviceArg::Cuda(n) => Backend::cuda(n).map_err(|e| Failure::Error(e.to_string()))?,
    })
}

fn compress_opts(settings: &Settings) -> Result<CompressOptions, Failure> {
    Ok(CompressOptions {
        level: settings.level,
        coder: settings.coder,
        threads: settings.threads,
        chunk_size: settings.chunk_size,
        model: settings.model.clone(),
        backend: backend(settings)?,
        images: settings.images,
        image_net: None,
        image_match: None,
        image_grid: None,
    })
}

fn decompress_opts(settings: &Settings) -> Result<DecompressOptions, Failure> {
    Ok(DecompressOptions {
        threads: settings.threads,
        backend: backend(settings)?,
        ..DecompressOptions::default()
    })
}

fn compress_one(
    settings: &Settings,
    reporter: &Reporter,
    input: &Input,
    name: &str,
    stdout: &mut dyn Write,
) -> Result<(), Failure> {
    if let Input::Path(p) = input {
        if files::has_suffix(p) && !settings.force && !p.is_dir() {
            return Err(Failure::Skip(format!(
                "already has the {} suffix -- unchanged (use -f to compress it again)",
                files::SUFFIX
            )));
        }
    }
    let target = match (&settings.output, input) {
        (OutputChoice::Stdout, _) | (OutputChoice::Default, Input::Stdin) => Target::Stdout,
        (OutputChoice::Path(p), _) => Target::File(p.clone()),
        (OutputChoice::Default, Input::Path(p)) => Target::File(files::compressed_name(p)),
    };
    let mut source = open_input(input)?;
    if matches!(target, Target::Stdout) && !settings.force && io::stdout().is_terminal() {
        return Err(Failure::Error(
            "refusing to write compressed data to a terminal; use -f to force, -o FILE, or redirect the output"
                .to_owned(),
        ));
    }
    let copts = compress_opts(settings)?;
    let dopts = decompress_opts(settings)?;
    let mut bar = reporter.progress_bar(name, source.size);
    let start = Instant::now();
    let size = source.size;
    let stats = write_output(settings, &target, input, source.meta.as_ref(), stdout, |out| {
        let mut progress = |p| bar.update(p);
        if settings.verify {
            verify::compress_verified(&mut source.reader, out, size, &copts, &dopts, &mut progress)
                .map_err(|e| verify_failure(&e))
        } else {
            nzip_codec::compress(&mut source.reader, out, size, &copts, &mut progress)
                .map_err(|e| Failure::from_codec(&e))
        }
    })?;
    bar.finish();
    remove_input(settings, input, &target)?;
    let file = json_or_text_name(reporter, input, name);
    let out = target.display();
    reporter.stats(&StatsLine::new(&file, Some(&out), "compress", &stats, start.elapsed(), settings.verify));
    Ok(())
}

fn verify_failure(e: &VerifyError) -> Failure {
    match e {
        VerifyError::Compress(e) => Failure::from_codec(e),
        VerifyError::Write(e) => Failure::from_write(e),
        VerifyError::Decode(e) => Failure::Error(format!(
            "verify failed: the compressed output does not decode ({}); this is a bug in nzip, please \
             report it; no output file was kept",
            describe(e)
        )),
        VerifyError::Mismatch { input_len, decoded_len } => Failure::Error(format!(
            "verify failed: the compressed output decodes to different content ({decoded_len} bytes, \
             input {input_len} bytes); this is a bug in nzip, please report it; no output file was kept"
        )),
        VerifyError::Panicked => Failure::Error("verify failed: the verifying decoder crashed".to_owned()),
    }
}

fn json_or_text_name(reporter: &Reporter, input: &Input, name: &str) -> String {
    if reporter.json {
        json_name(input)
    } else {
        name.to_owned()
    }
}

fn decompress_one(
    settings: &Settings,
    reporter: &Reporter,
    input: &Input,
    name: &str,
    stdout: &mut dyn Write,
) -> Result<(), Failure> {
    let testing = settings.mode == Mode::Test;
    let target = if testing {
        None
    } else {
        Some(match (&settings.output, input) {
            (OutputChoice::Stdout, _) | (OutputChoice::Default, Input::Stdin) => Target::Stdout,
            (OutputChoice::Path(p), _) => Target::File(p.clone()),
            (OutputChoice::Default, Input::Path(p)) => match files::decompressed_name(p) {
                Some(dest) => Target::File(dest),
                None if p.is_dir() => return open_input(input).map(|_| ()),
                None => {
                    return Err(Failure::Skip(format!(
                        "unknown suffix -- ignored (expected a {} file; use -o NAME or -c to decompress it anyway)",
                        files::SUFFIX
                    )))
                }
            },
        })
    };
    refuse_terminal_stdin(settings, input)?;
    let source = open_input(input)?;
    let dopts = decompress_opts(settings)?;
    let mut bar = reporter.progress_bar(name, source.size);
    let start = Instant::now();
    let mut reader = source.reader;
    let mut run = |out: &mut dyn Write| -> Result<Stats, Failure> {
        let mut progress = |p| bar.update(p);
        nzip_codec::decompress(&mut reader, out, &dopts, &mut progress).map_err(|e| Failure::from_codec(&e))
    };
    let stats = match &target {
        None => run(&mut io::sink())?,
        Some(t) => write_output(settings, t, input, source.meta.as_ref(), stdout, run)?,
    };
    bar.finish();
    if let Some(t) = &target {
        remove_input(settings, input, t)?;
    }
    let file = json_or_text_name(reporter, input, name);
    let out = target.as_ref().map(Target::display);
    let op = if testing { "test" } else { "decompress" };
    reporter.stats(&StatsLine::new(&file, out.as_deref(), op, &stats, start.elapsed(), false));
    Ok(())
}

// ---------------------------------------------------------------------------
// -l / --list
// ---------------------------------------------------------------------------

/// One frame in `nzip -l --json`.
#[derive(Debug, Serialize)]
struct FrameJson {
    medium: String,
    method: String,
    level: u8,
    coder: String,
    precision: u8,
    chunk_size: u32,
    model: Option<String>,
    chunks: u64,
    chunks_stored: u64,
    compressed_bytes: u64,
    original_bytes: u64,
    content_xxh64: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    /// Values in the image frame's value map (its stripes code their indices).
    #[serde(skip_serializing_if = "Option::is_none")]
    image_values: Option<u32>,
}

/// One file in `nzip -l --json`.
#[derive(Debug, Serialize)]
struct FileJson {
    file: String,
    compressed_bytes: u64,
    original_bytes: u64,
    ratio: Option<f64>,
    chunks: u64,
    chunks_stored: u64,
    frames: Vec<FrameJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The totals in `nzip -l --json`.
#[derive(Debug, Serialize)]
struct TotalJson {
    files: u64,
    compressed_bytes: u64,
    original_bytes: u64,
    ratio: Option<f64>,
}

/// The document `nzip -l --json` prints.
#[derive(Debug, Serialize)]
struct ListJson {
    files: Vec<FileJson>,
    total: TotalJson,
}

fn ratio(compressed: u64, original: u64) -> Option<f64> {
    (original > 0).then(|| compressed as f64 / original as f64)
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{:.2}%", 100.0 * r))
}

fn method_text(h: &nzip_format::Header) -> String {
    if h.method == nzip_format::Method::Stored {
        h.method.to_string()
    } else {
        let model = h.model.as_ref().map(|m| format!(" {}", m.name)).unwrap_or_default();
        format!("{} -{} {}{model}", h.method, h.level, h.coder)
    }
}

fn frame_json(f: &FrameSummary) -> FrameJson {
    FrameJson {
        medium: f.header.medium.to_string(),
        method: f.header.method.to_string(),
        level: f.header.level,
        coder: f.header.coder.to_string(),
        precision: f.header.precision,
        chunk_size: f.header.chunk_size,
        model: f.header.model.as_ref().map(|m| format!("{} ({})", m.name, nzip_format::hex(&m.id))),
        chunks: f.chunks,
        chunks_stored: f.chunks_stored,
        compressed_bytes: f.compressed_bytes,
        original_bytes: f.content_bytes,
        content_xxh64: format!("{:016x}", f.content_xxh64),
        image: f.image.as_ref().map(ToString::to_string),
        image_values: f.value_map.as_ref().map(|m| m.count),
    }
}

fn list_one(settings: &Settings, input: &Input) -> Result<Vec<FrameSummary>, Failure> {
    refuse_terminal_stdin(settings, input)?;
    let source = open_input(input)?;
    nzip_codec::list(source.reader, &decompress_opts(settings)?).map_err(|e| Failure::from_codec(&e))
}

/// The header of `nzip -l`; the method column fits
/// "cmlm2 -6 range byte-gru-m+text-prior-6".
const LIST_HEADER: &str =
    "  compressed      original    ratio  chunks  stored  method                                  \
     checksum (xxh64)  name";

fn list_row(
    compressed: u64,
    original: u64,
    chunks: u64,
    stored: u64,
    method: &str,
    sum: &str,
    name: &str,
) -> String {
    format!(
        "{compressed:>12}  {original:>12}  {:>7}  {chunks:>6}  {stored:>6}  {method:<38}  {sum:<16}  {name}",
        ratio_text(ratio(compressed, original))
    )
}

fn list_all(settings: &Settings, reporter: &Reporter) -> Status {
    let mut status = Status::Success;
    let mut files_json = Vec::new();
    let mut out = io::stdout().lock();
    let mut lines: Vec<String> = Vec::new();
    let (mut total_c, mut total_o, mut total_chunks, mut total_stored, mut listed) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    if !settings.json && settings.quiet == 0 {
        lines.push(LIST_HEADER.to_owned());
    }
    for input in &settings.inputs {
        let name = display_name(input);
        let frames = match list_one(settings, input) {
            Ok(f) => f,
            Err(failure) => {
                let (msg, st) = match failure {
                    Failure::Skip(m) => (m, Status::Warning),
                    Failure::Error(m) => (m, Status::Error),
                    Failure::BrokenPipe => return status,
                };
                if st == Status::Warning {
                    reporter.warn(&name, &msg);
                } else {
                    reporter.error(&name, &msg);
                }
                status = status.worst(st);
                if settings.json {
                    files_json.push(FileJson {
                        file: json_name(input),
                        compressed_bytes: 0,
                        original_bytes: 0,
                        ratio: None,
                        chunks: 0,
                        chunks_stored: 0,
                        frames: Vec::new(),
                        error: Some(msg),
                    });
                }
                continue;
            }
        };
        let compressed: u64 = frames.iter().map(|f| f.compressed_bytes).sum();
        let original: u64 = frames.iter().map(|f| f.content_bytes).sum();
        let chunks: u64 = frames.iter().map(|f| f.chunks).sum();
        let stored: u64 = frames.iter().map(|f| f.chunks_stored).sum();
        total_c += compressed;
        total_o += original;
        total_chunks += chunks;
        total_stored += stored;
        listed += 1;
        if settings.json {
            files_json.push(FileJson {
                file: json_name(input),
                compressed_bytes: compressed,
                original_bytes: original,
                ratio: ratio(compressed, original),
                chunks,
                chunks_stored: stored,
                frames: frames.iter().map(frame_json).collect(),
                error: None,
            });
            continue;
        }
        let method = match frames.split_first() {
            None => "-".to_owned(),
            Some((first, rest)) => {
                let m = method_text(&first.header);
                if rest.iter().all(|f| method_text(&f.header) == m) {
                    m
                } else {
                    "mixed".to_owned()
                }
            }
        };
        let sum = match frames.as_slice() {
            [one] => format!("{:016x}", one.content_xxh64),
            many => format!("({} frames)", many.len()),
        };
        lines.push(list_row(compressed, original, chunks, stored, &method, &sum, &name));
        if settings.verbose > 0 {
            for (i, f) in frames.iter().enumerate() {
                lines.push(format!(
                    "    frame {}: {}; {} chunks ({} stored), {} -> {} bytes, xxh64 {:016x}",
                    i + 1,
                    f.header,
                    f.chunks,
                    f.chunks_stored,
                    f.compressed_bytes,
                    f.content_bytes,
                    f.content_xxh64
                ));
                if let Some(image) = &f.image {
                    lines.push(format!("      image: {image} (content = its samples)"));
                }
                if let Some(map) = &f.value_map {
                    lines.push(format!(
                        "      value map: the samples take {} values, coded as their indices",
                        map.count
                    ));
                }
            }
        }
        if write_lines(&mut out, &mut lines).is_err() {
            return status;
        }
    }
    if settings.json {
        let doc = ListJson {
            files: files_json,
            total: TotalJson {
                files: listed,
                compressed_bytes: total_c,
                original_bytes: total_o,
                ratio: ratio(total_c, total_o),
            },
        };
        match serde_json::to_string_pretty(&doc) {
            Ok(s) => lines.push(s),
            Err(e) => {
                reporter.error_general(&format!("cannot format JSON: {e}"));
                return Status::Error;
            }
        }
    } else if listed > 1 {
        let files = format!("(totals, {listed} files)");
        lines.push(list_row(total_c, total_o, total_chunks, total_stored, "", "", &files));
    }
    let _ = write_lines(&mut out, &mut lines);
    status
}

/// Write and clear `lines`; an error means standard output is gone.
fn write_lines(out: &mut dyn Write, lines: &mut Vec<String>) -> io::Result<()> {
    for l in lines.drain(..) {
        writeln!(out, "{l}")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_rows_line_up() {
        for method in ["cm2 -6 range text-prior-6", "cmlm2 -6 range byte-gru-m+text-prior-6"] {
            let row = list_row(120, 1000, 1, 0, method, "0123456789abcdef", "a.nz");
            assert_eq!(row.find(method), LIST_HEADER.find("method"));
            assert_eq!(row.find("0123"), LIST_HEADER.find("checksum"));
            assert_eq!(row.find("a.nz"), LIST_HEADER.find("name"));
            assert!(row.contains("12.00%"));
        }
        assert_eq!(ratio_text(ratio(5, 0)), "-");
    }
}
