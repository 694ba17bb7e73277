//! Everything nzip says on standard error: warnings and errors, the `-v`
//! stats line (text or JSON), and the progress bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nzip_codec::{Progress, Stats};
use serde::Serialize;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

/// Inputs at least this large get a progress bar (when standard error is a
/// terminal); inputs of unknown size get one once this much has been read.
pub const PROGRESS_THRESHOLD: u64 = 16 << 20;

/// Prints messages according to `-q`, `-v` and `--json`.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// Number of `-q`.
    pub quiet: u8,
    /// Number of `-v`.
    pub verbose: u8,
    /// `--json`.
    pub json: bool,
    /// Show progress bars (standard error is a terminal, no `-q`, no `--no-progress`).
    pub progress: bool,
}

impl Reporter {
    /// A reporter for these settings; progress only when standard error is a terminal.
    pub fn new(quiet: u8, verbose: u8, json: bool, progress: bool) -> Self {
        Reporter { quiet, verbose, json, progress: progress && quiet == 0 && io::stderr().is_terminal() }
    }

    /// A warning (hidden by `-q`).
    pub fn warn(&self, name: &str, msg: &str) {
        if self.quiet == 0 {
            stderr_line(&format!("nzip: {name}: {msg}"));
        }
    }

    /// An error about one input (hidden by `-qq`).
    pub fn error(&self, name: &str, msg: &str) {
        if self.quiet < 2 {
            stderr_line(&format!("nzip: {name}: {msg}"));
        }
    }

    /// An error not about one input (hidden by `-qq`).
    pub fn error_general(&self, msg: &str) {
        if self.quiet < 2 {
            stderr_line(&format!("nzip: {msg}"));
        }
    }

    /// The `-v` stats line of one input.
    pub fn stats(&self, line: &StatsLine<'_>) {
        if self.verbose == 0 {
            return;
        }
        if self.json {
            if let Ok(s) = serde_json::to_string(line) {
                stderr_line(&s);
            }
        } else {
            stderr_line(&line.text());
        }
    }

    /// A progress bar for one input of `total` bytes (if known).
    pub fn progress_bar(&self, name: &str, total: Option<u64>) -> ProgressReporter {
        ProgressReporter { enabled: self.progress, name: name.to_owned(), total, bar: None }
    }
}

/// Write one line on standard error, ignoring failures (a closed standard
/// error must not turn into a panic, as `eprintln!` would).
pub fn stderr_line(s: &str) {
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "{s}");
}

/// What one input did, for `-v`.
#[derive(Debug, Clone, Serialize)]
pub struct StatsLine<'a> {
    /// The input's name (`-` for standard input in JSON).
    pub file: &'a str,
    /// The output's name, `-` for standard output, absent for `-t`.
    pub output: Option<&'a str>,
    /// `compress`, `decompress` or `test`.
    pub operation: &'static str,
    /// Original (uncompressed) bytes.
    pub original_bytes: u64,
    /// Compressed bytes.
    pub compressed_bytes: u64,
    /// compressed / original (absent for an empty original).
    pub ratio: Option<f64>,
    /// Compressed bits per original byte (absent for an empty original).
    pub bits_per_byte: Option<f64>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Original megabytes (10^6 bytes) per second.
    pub mb_per_s: f64,
    /// Frames (concatenated `.nz` files count one each).
    pub frames: u64,
    /// Chunks coded with the model.
    pub chunks_modelled: u64,
    /// Chunks stored raw.
    pub chunks_stored: u64,
    /// True when the output was decoded and compared with the input (`--verify`).
    pub verified: bool,
}

impl<'a> StatsLine<'a> {
    /// Build the line from the library's [`Stats`] and the elapsed time.
    pub fn new(
        file: &'a str,
        output: Option<&'a str>,
        operation: &'static str,
        stats: &Stats,
        elapsed: Duration,
        verified: bool,
    ) -> Self {
        let original = stats.content_bytes;
        let compressed = stats.compressed_bytes;
        let seconds = elapsed.as_secs_f64();
        let (ratio, bits_per_byte) = if original == 0 {
            (None, None)
        } else {
            let r = compressed as f64 / original as f64;
            (Some(r), Some(8.0 * r))
        };
        let mb_per_s = if seconds > 0.0 { original as f64 / seconds / 1e6 } else { 0.0 };
        StatsLine {
            file,
            output,
            operation,
            original_bytes: original,
            compressed_bytes: compressed,
            ratio,
            bits_per_byte,
            seconds,
            mb_per_s,
            frames: stats.frames,
            chunks_modelled: stats.chunks_modelled,
            chunks_stored: stats.chunks_stored,
            verified,
        }
    }

    /// `FILE: 1234567 -> 234567 (19.00%, 1.52 bits/byte), 3.1 MB/s` (input
    /// size first: compressed first when decompressing).
    pub fn text(&self) -> String {
        let (from, to) = if self.operation == "compress" {
            (self.original_bytes, self.compressed_bytes)
        } else {
            (self.compressed_bytes, self.original_bytes)
        };
        let ratio = match (self.ratio, self.bits_per_byte) {
            (Some(r), Some(b)) => format!("{:.2}%, {b:.2} bits/byte", 100.0 * r),
            _ => "empty input".to_owned(),
        };
        let mut s = format!("{}: {from} -> {to} ({ratio}), {:.1} MB/s", self.file, self.mb_per_s);
        if self.operation == "test" {
            s.push_str(", OK");
        }
        if self.verified {
            s.push_str(", verified");
        }
        s
    }
}

/// A progress bar that appears only for large inputs, and only on a terminal.
#[derive(Debug)]
pub struct ProgressReporter {
    enabled: bool,
    name: String,
    total: Option<u64>,
    bar: Option<ProgressBar>,
}

impl ProgressReporter {
    /// Record progress; the bar appears once the input is known to be large.
    pub fn update(&mut self, p: Progress) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() {
            let large = match self.total {
                Some(t) => t >= PROGRESS_THRESHOLD,
                None => p.read >= PROGRESS_THRESHOLD,
            };
            if !large {
                return;
            }
            self.bar = Some(self.make_bar());
        }
        if let Some(bar) = &self.bar {
            bar.set_position(p.read);
        }
    }

    fn make_bar(&self) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(self.total, ProgressDrawTarget::stderr());
        let template = if self.total.is_some() {
            "{prefix} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"
        } else {
            "{prefix} {spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(self.name.clone());
        bar
    }

    /// Remove the bar from the terminal.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for ProgressReporter {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Explain a library error for a user: what is wrong and what to do.
pub fn describe(e: &nzip_codec::Error) -> String {
    use nzip_codec::format::Error as F;
    use nzip_codec::Error as E;
    match e {
        E::Format(f) => match f {
            F::NotNzip => format!("{f} (not an nzip file, or damaged)"),
            F::Truncated { .. } => format!("{f} — the file is truncated or damaged"),
            F::Malformed { .. } | F::Checksum { .. } => format!("{f} — the file is damaged"),
            F::Unsupported(_) => {
                let this = format!(
                    "this is nzip {} (.nz format {}.{})",
                    env!("CARGO_PKG_VERSION"),
                    nzip_format::VERSION_MAJOR,
                    nzip_format::VERSION_MINOR
                );
                let text = f.to_string();
                if text.contains("newer nzip") {
                    format!("{text}; {this}, unless the file is damaged")
                } else {
                    format!("{text} — {this}; a newer nzip may decode it, unless the file is damaged")
                }
            }
            F::LimitExceeded { what, value, limit } => format!(
                "{what} is {value}, beyond this nzip's limit of {limit}; the file is beyond the \
                 decoder's limits (no option raises them yet)"
            ),
            F::Io(io) => io.to_string(),
            other => other.to_string(),
        },
        E::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// True when the error is a closed pipe on the output (`nzip -dc x | head`).
pub fn is_broken_pipe(e: &nzip_codec::Error) -> bool {
    use nzip_codec::format::Error as F;
    use nzip_codec::Error as E;
    match e {
        E::Io(io) | E::Format(F::Io(io)) => io.kind() == io::ErrorKind::BrokenPipe,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_line_text() {
        let stats = Stats {
            content_bytes: 1_234_567,
            compressed_bytes: 234_567,
            frames: 1,
            chunks_modelled: 2,
            chunks_stored: 0,
        };
        let line =
            StatsLine::new("a.txt", Some("a.txt.nz"), "compress", &stats, Duration::from_millis(400), false);
        assert_eq!(line.text(), "a.txt: 1234567 -> 234567 (19.00%, 1.52 bits/byte), 3.1 MB/s");
        let line = StatsLine::new(
            "a.txt.nz",
            Some("a.txt"),
            "decompress",
            &stats,
            Duration::from_millis(400),
            false,
        );
        assert_eq!(line.text(), "a.txt.nz: 234567 -> 1234567 (19.00%, 1.52 bits/byte), 3.1 MB/s");
        let json: serde_json::Value = serde_json::to_value(&line).unwrap();
        assert_eq!(json["original_bytes"], 1_234_567);
        assert_eq!(json["compressed_bytes"], 234_567);

        let empty = Stats { compressed_bytes: 40, frames: 1, ..Stats::default() };
        let line = StatsLine::new("e", None, "test", &empty, Duration::ZERO, true);
        assert_eq!(line.text(), "e: 40 -> 0 (empty input), 0.0 MB/s, OK, verified");
    }

    #[test]
    fn messages_say_what_to_do() {
        use nzip_codec::format::Error as F;
        let e = nzip_codec::Error::Format(F::Malformed { what: "bad section", offset: 17 });
        let m = describe(&e);
        assert!(m.contains("byte 17") && m.contains("damaged"), "{m}");
        let e = nzip_codec::Error::Format(F::Unsupported("format 9.0".into()));
        assert!(describe(&e).contains("newer nzip"));
        let e = nzip_codec::Error::Format(F::LimitExceeded { what: "chunk size", value: 9, limit: 8 });
        assert!(describe(&e).contains("beyond"));
        let e = nzip_codec::Error::Io(io::Error::new(io::ErrorKind::BrokenPipe, "x"));
        assert!(is_broken_pipe(&e));
        let e = nzip_codec::Error::Format(F::Io(io::Error::new(io::ErrorKind::BrokenPipe, "x")));
        assert!(is_broken_pipe(&e));
    }
}
