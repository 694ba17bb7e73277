//! Command-line parsing, separated from execution so that it can be tested.
//!
//! Parsing happens in three steps:
//! 1. [`preprocess`] rewrites the gzip habits clap does not know: `-1` .. `-9`
//!    (also inside clusters such as `-9c`), `--fast` / `--best`, the
//!    subcommand words (`nzip decompress F` = `nzip -d F`) and the names
//!    `unnzip` (= `-d`) and `nzcat` (= `-dc`);
//! 2. clap parses the result into [`Cli`];
//! 3. [`Settings::resolve`] applies the environment (`NZIP_LEVEL`,
//!    `NZIP_THREADS`) and the defaults, and checks what clap cannot.
//!
//! Precedence is command line > environment > built-in default.

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, ValueEnum};
use nzip_codec::CoderKind;
use std::ffi::OsString;
use std::path::PathBuf;

/// Default compression level.
pub const DEFAULT_LEVEL: u8 = 6;

/// Default worker threads: 0 = one per available core (as `xz` 5.6 and `pigz`).
/// The compressed bytes never depend on it.
pub const DEFAULT_THREADS: usize = 0;

/// Largest accepted `-T` value.
pub const MAX_THREADS: usize = 1024;

/// Environment variable with the default level (1..=9).
pub const ENV_LEVEL: &str = "NZIP_LEVEL";

/// Environment variable with the default thread count (0 = all cores).
pub const ENV_THREADS: &str = "NZIP_THREADS";

/// Short options that take a value: in a cluster, the rest of the cluster (or
/// the next argument) is their value and is never rewritten.
const SHORT_WITH_VALUE: &[char] = &['T', 'o'];

/// Long options that take a value (when written without `=`, the next
/// argument is their value).
const LONG_WITH_VALUE: &[&str] =
    &["--output", "--threads", "--level", "--coder", "--chunk-size", "--model", "--device"];

/// Subcommand words and the mode flag each stands for.
const SUBCOMMANDS: &[(&str, &str)] =
    &[("compress", "--compress"), ("decompress", "--decompress"), ("test", "--test"), ("list", "--list")];

const USAGE: &str = "nzip [OPTIONS] [FILE]...
       nzip compress|decompress|test|list [OPTIONS] [FILE]...
       nzip -d|-t|-l [OPTIONS] FILE.nz...";

const AFTER_HELP: &str = "\
Files:
  With no FILE, or when FILE is -, nzip reads standard input and writes standard output.
  Compressing FILE writes FILE.nz; decompressing FILE.nz writes FILE. The input is kept (use
  --rm to delete it after success). An existing output is never overwritten without -f; the
  output is written to a temporary file and renamed only on success, with the input's
  permissions and modification time. A file named like a subcommand is given as ./NAME.
  Concatenated .nz files decompress to the concatenation of their contents.

Environment:
  NZIP_LEVEL    default level (1..9) when no -1..-9 / --level is given
  NZIP_THREADS  default thread count when no -T is given (0 = all cores)
  Options on the command line win over the environment.

Exit status:
  0  success
  1  error: an input failed (I/O error, corrupt or unsupported data, failed verify) or the
     arguments are wrong
  2  warning: some inputs were skipped (a directory, a name without .nz, an existing .nz),
     and nothing failed";

/// The compression level flags `-1` .. `-9` are not clap flags; they are
/// rewritten to `--level=N` by [`preprocess`].
#[derive(Debug, Clone, Parser)]
#[command(
    name = "nzip",
    about = "nzip: lossless compression with learned and adaptive models (.nz files)",
    long_about = None,
    override_usage = USAGE,
    after_help = AFTER_HELP,
    disable_version_flag = true,
    args_override_self = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Compress (the default)
    #[arg(short = 'z', long, help_heading = "Mode (the last one given wins)",
          overrides_with_all = ["decompress", "test", "list"])]
    pub compress: bool,

    /// Decompress FILE.nz to FILE
    #[arg(short = 'd', long, visible_alias = "uncompress",
          help_heading = "Mode (the last one given wins)",
          overrides_with_all = ["compress", "test", "list"])]
    pub decompress: bool,

    /// Test: decompress and verify every checksum, write nothing
    #[arg(short = 't', long, help_heading = "Mode (the last one given wins)",
          overrides_with_all = ["compress", "decompress", "list"])]
    pub test: bool,

    /// List: sizes, ratio, method, chunks and checksum, without decoding
    #[arg(short = 'l', long, help_heading = "Mode (the last one given wins)",
          overrides_with_all = ["compress", "decompress", "test"])]
    pub list: bool,

    /// Write to standard output; keep the input
    #[arg(
        short = 'c',
        long = "stdout",
        visible_alias = "to-stdout",
        help_heading = "Output",
        conflicts_with = "output"
    )]
    pub stdout: bool,

    /// Write to FILE (one input only; - is standard output)
    #[arg(short = 'o', long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// Keep the input file (the default)
    #[arg(short = 'k', long, help_heading = "Output", overrides_with = "rm")]
    pub keep: bool,

    /// Remove the input after success (after the --verify, if given); ignored with -c
    #[arg(long, help_heading = "Output", overrides_with = "keep")]
    pub rm: bool,

    /// Overwrite outputs; compress .nz files; read or write compressed data on a terminal
    #[arg(short = 'f', long, help_heading = "Output")]
    pub force: bool,

    /// Compression level: 1 fastest .. 9 smallest; -1 .. -9 for short, --fast = -1,
    /// --best = -9 [default: 6, or NZIP_LEVEL]
    #[arg(long, value_name = "N", help_heading = "Compression",
          value_parser = clap::value_parser!(u8).range(1..=9))]
    pub level: Option<u8>,

    /// Entropy coder for the modelled chunks [default: range]
    #[arg(long, value_enum, value_name = "CODER", help_heading = "Compression")]
    pub coder: Option<CoderArg>,

    /// Bytes per chunk, with an optional K, M or G suffix (powers of 1024)
    /// [default: the level's]
    #[arg(long, value_name = "BYTES", help_heading = "Compression", value_parser = parse_size)]
    pub chunk_size: Option<u32>,

    /// Use a built-in learned model (`nzip -vV` lists them): a language model codes
    /// every input instead of context mixing; an image network (img-mlp-*) codes
    /// PNG/PNM inputs instead of the one the level would choose; the file records
    /// the model's content hash
    #[arg(long, value_name = "NAME", help_heading = "Compression")]
    pub model: Option<String>,

    /// Where learned models run: cpu (default), scalar (the reference kernels),
    /// candle (candle on the CPU) or cuda[:N] (an NVIDIA GPU, builds with the
    /// `cuda` feature); the output bytes never depend on it
    #[arg(long, value_name = "DEVICE", help_heading = "Compression", value_parser = parse_device)]
    pub device: Option<DeviceArg>,

    /// After compressing, decode the output and compare it with the input before
    /// reporting success (or removing the input)
    #[arg(long, help_heading = "Compression")]
    pub verify: bool,

    /// Compress every input as bytes, so that it decompresses byte for byte. Without
    /// it, PNG and PNM images are coded by the image model: their pixels and
    /// metadata come back exactly, but a PNG's compressed pixel data is nzip's own
    #[arg(long, help_heading = "Compression")]
    pub bytes: bool,

    /// Worker threads, 0 = one per core [default: 0, or NZIP_THREADS]; the output
    /// bytes never depend on it
    #[arg(short = 'T', long, value_name = "N", help_heading = "Compression",
          value_parser = parse_threads)]
    pub threads: Option<usize>,

    /// Fewer messages: -q hides warnings and progress, -qq also errors
    #[arg(short = 'q', long, action = ArgAction::Count, help_heading = "Messages")]
    pub quiet: u8,

    /// More messages: a stats line per file on standard error
    #[arg(short = 'v', long, action = ArgAction::Count, help_heading = "Messages")]
    pub verbose: u8,

    /// Machine-readable output: JSON for -l (standard output) and -v (standard error)
    #[arg(long, help_heading = "Messages")]
    pub json: bool,

    /// Never show a progress bar
    #[arg(long, help_heading = "Messages")]
    pub no_progress: bool,

    /// Print the version and exit
    #[arg(short = 'V', long, help_heading = "Messages")]
    pub version: bool,

    /// Files to process (- is standard input)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// The `--coder` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CoderArg {
    /// Range coding (first in, first out)
    Range,
    /// Asymmetric numeral systems (last in, first out)
    Ans,
}

impl From<CoderArg> for CoderKind {
    fn from(c: CoderArg) -> Self {
        match c {
            CoderArg::Range => CoderKind::Range,
            CoderArg::Ans => CoderKind::Ans,
        }
    }
}

/// The `--device` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceArg {
    /// The fast CPU kernels.
    #[default]
    Cpu,
    /// The scalar reference kernels.
    Scalar,
    /// candle on the CPU.
    Candle,
    /// candle on CUDA GPU N.
    Cuda(usize),
}

fn parse_device(s: &str) -> Result<DeviceArg, String> {
    match s {
        "cpu" => Ok(DeviceArg::Cpu),
        "scalar" => Ok(DeviceArg::Scalar),
        "candle" => Ok(DeviceArg::Candle),
        "cuda" | "gpu" => Ok(DeviceArg::Cuda(0)),
        _ => s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse().ok())
            .map(DeviceArg::Cuda)
            .ok_or_else(|| format!("unknown device '{s}' (cpu, scalar, candle, cuda, cuda:N)")),
    }
}

/// What nzip does with each input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `-z`, the default.
    Compress,
    /// `-d`.
    Decompress,
    /// `-t`.
    Test,
    /// `-l`.
    List,
}

/// One input named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (no file, or `-`).
    Stdin,
    /// A named file.
    Path(PathBuf),
}

/// Where the output of one input goes, before the default name is derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputChoice {
    /// The default: next to the input (`FILE.nz` / `FILE`), or standard
    /// output when the input is standard input.
    Default,
    /// `-c`, `-o -`.
    Stdout,
    /// `-o FILE`.
    Path(PathBuf),
}

/// Everything a run needs, resolved from the command line, the environment
/// and the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// What to do.
    pub mode: Mode,
    /// The inputs, in order; never empty (no file = standard input).
    pub inputs: Vec<Input>,
    /// Where outputs go.
    pub output: OutputChoice,
    /// `--rm`: remove each input after success.
    pub remove_input: bool,
    /// `-f`.
    pub force: bool,
    /// Compression level 1..=9.
    pub level: u8,
    /// Entropy coder.
    pub coder: CoderKind,
    /// Chunk size, if given.
    pub chunk_size: Option<u32>,
    /// `--model`: a built-in learned model by name.
    pub model: Option<String>,
    /// `--device`.
    pub device: DeviceArg,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// `--verify`.
    pub verify: bool,
    /// Code PNG and PNM inputs with the image model (not `--bytes`).
    pub images: bool,
    /// Number of `-q`.
    pub quiet: u8,
    /// Number of `-v`.
    pub verbose: u8,
    /// `--json`.
    pub json: bool,
    /// False with `--no-progress`.
    pub progress: bool,
}

/// The result of parsing a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run with these settings.
    Run(Settings),
    /// Print this text on standard output and exit with 0 (`--help`, `--version`).
    Print(String),
}

/// A command-line mistake: the message to print (already formatted, may span
/// several lines). The exit status is 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

/// Parse a command line (`args[0]` is the program name) with `env` giving
/// environment variables.
pub fn parse<I, T>(args: I, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Parsed, ArgError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args = preprocess(args.into_iter().map(Into::into).collect());
    let matches = match Cli::command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Ok(Parsed::Print(e.render().to_string()))
                }
                _ => Err(ArgError(e.render().to_string().trim_end().to_owned())),
            };
        }
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| ArgError(e.render().to_string()))?;
    if cli.version {
        return Ok(Parsed::Print(version_text(cli.verbose > 0)));
    }
    Settings::resolve(cli, env).map(Parsed::Run)
}

/// `nzip -V` (and `-vV`, which adds what this build supports).
pub fn version_text(verbose: bool) -> String {
    let mut s = format!(
        "nzip {} (.nz format {}.{})\n",
        env!("CARGO_PKG_VERSION"),
        nzip_format::VERSION_MAJOR,
        nzip_format::VERSION_MINOR
    );
    if verbose {
        s.push_str(&format!("coders: range, ans\nmethods: cm2 (context mixing with a pretrained prior), cmlm2 (cm2 mixed with a learned language model that adapts to the file: -9 on text), cmlm (the same without adapting, decode), cm (context mixing, decode), lm (learned model), imgf (the fast predictive image model: -1), img3 (predictive image model with a match model for repeats and a 4x4 grid for JPEG-origin photos, each per stripe; with a learned network from -2, chosen per image: {} at -2..-6, the wider {} at -7..-9; --model names one), img2 (the same without the grid, decode), imgnn and img (without the match model either, with and without a network, decode), stored\n\
             media: bytes, image (PNG, PGM/PPM/PAM)\n",
            nzip_codec::image_nets_for_level(6).join(" or "),
            nzip_codec::image_nets_for_level(9).join(" or ")
        ));
        s.push_str("built-in models (--model NAME; files name them by SHA-256):\n");
        for m in nzip_codec::nn::package::builtins() {
            let id: String = m.id().iter().take(8).map(|b| format!("{b:02x}")).collect();
            s.push_str(&format!("  {:<12} {id}…  {} bytes  {}\n", m.name, m.package_len(), m.summary));
        }
        s.push_str(if cfg!(feature = "cuda") {
            "devices: cpu, scalar, candle, cuda\n"
        } else {
            "devices: cpu, scalar, candle (no cuda in this build)\n"
        });
    }
    s
}

impl Settings {
    /// Apply the environment and the defaults to a parsed command line and
    /// check the combinations clap does not.
    pub fn resolve(cli: Cli, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Settings, ArgError> {
        let mode = if cli.decompress {
            Mode::Decompress
        } else if cli.test {
            Mode::Test
        } else if cli.list {
            Mode::List
        } else {
            Mode::Compress
        };

        let level = match cli.level {
            Some(l) => l,
            // The level only matters when compressing: a stray NZIP_LEVEL must
            // not break decompression.
            None if mode == Mode::Compress => match env(ENV_LEVEL) {
                Some(v) => parse_env_level(&v)?,
                None => DEFAULT_LEVEL,
            },
            None => DEFAULT_LEVEL,
        };

        let threads = match cli.threads {
            Some(t) => t,
            None => match env(ENV_THREADS) {
                Some(v) => {
                    let s = v.to_string_lossy();
                    parse_threads(s.trim()).map_err(|e| ArgError(format!("{ENV_THREADS}={s}: {e}")))?
                }
                None => DEFAULT_THREADS,
            },
        };

        let inputs: Vec<Input> = if cli.files.is_empty() {
            vec![Input::Stdin]
        } else {
            cli.files
                .into_iter()
                .map(|p| if p.as_os_str() == "-" { Input::Stdin } else { Input::Path(p) })
                .collect()
        };

        let output = match cli.output {
            Some(p) if p.as_os_str() == "-" => OutputChoice::Stdout,
            Some(p) => OutputChoice::Path(p),
            None if cli.stdout => OutputChoice::Stdout,
            None => OutputChoice::Default,
        };
        if matches!(output, OutputChoice::Path(_))
            && inputs.len() > 1
            && matches!(mode, Mode::Compress | Mode::Decompress)
        {
            return Err(ArgError(format!(
                "-o/--output takes one input only, but {} were given; use -c to concatenate, or drop -o",
                inputs.len()
            )));
        }

        Ok(Settings {
            mode,
            inputs,
            output,
            remove_input: cli.rm,
            force: cli.force,
            level,
            coder: cli.coder.map_or(CoderKind::Range, CoderKind::from),
            chunk_size: cli.chunk_size,
            model: cli.model,
            device: cli.device.unwrap_or_default(),
            threads,
            verify: cli.verify,
            images: !cli.bytes,
            quiet: cli.quiet,
            verbose: cli.verbose,
            json: cli.json,
            progress: !cli.no_progress,
        })
    }
}

fn parse_env_level(v: &std::ffi::OsStr) -> Result<u8, ArgError> {
    let s = v.to_string_lossy();
    s.trim()
        .parse::<u8>()
        .ok()
        .filter(|l| (1..=9).contains(l))
        .ok_or_else(|| ArgError(format!("{ENV_LEVEL}={s}: not a level from 1 to 9; fix or unset it")))
}

/// Parse a `-T` value: 0 (all cores) ..= [`MAX_THREADS`].
pub fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("'{s}' is not a thread count (0 = all cores)"))?;
    if n > MAX_THREADS {
        return Err(format!("{n} threads is more than the maximum of {MAX_THREADS}"));
    }
    Ok(n)
}

/// Parse a size with an optional binary suffix: `65536`, `64K`, `64KiB`, `1M`,
/// `1MB`, `1G`. Must be in 1 ..= [`nzip_format::MAX_CHUNK_SIZE`].
pub fn parse_size(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!("'{s}' is not a size (examples: 65536, 64K, 1M)"));
    }
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("'{s}': unknown size suffix '{suffix}' (use K, M or G)")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("'{s}' is too large"))?;
    let bytes = n
        .checked_mul(1u64 << shift)
        .filter(|&b| b >= 1 && b <= u64::from(nzip_format::MAX_CHUNK_SIZE))
        .ok_or_else(|| format!("'{s}' is outside 1 byte ..= 1G"))?;
    u32::try_from(bytes).map_err(|_| format!("'{s}' is outside 1 byte ..= 1G"))
}

/// Rewrite what clap cannot parse by itself (see the module documentation).
/// `args[0]` is the program name; everything after `--` is left alone.
pub fn preprocess(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len() + 2);
    let mut iter = args.into_iter();
    if let Some(argv0) = iter.next() {
        let implied = implied_by_name(&argv0);
        out.push(argv0);
        out.extend(implied.iter().map(OsString::from));
    }
    let mut expect_value = false;
    let mut only_files = false;
    let mut seen_positional = false;
    for arg in iter {
        if expect_value || only_files {
            expect_value = false;
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            // Not UTF-8: a file name.
            seen_positional = true;
            out.push(arg);
            continue;
        };
        if s == "--" {
            only_files = true;
            out.push(arg);
        } else if s.starts_with("--") {
            match s {
                "--fast" => out.push("--level=1".into()),
                "--best" => out.push("--level=9".into()),
                _ => {
                    expect_value = LONG_WITH_VALUE.contains(&s);
                    out.push(arg);
                }
            }
        } else if s.len() > 1 && s.starts_with('-') {
            expect_value = split_short_cluster(&s[1..], &mut out);
        } else {
            if !seen_positional {
                seen_positional = true;
                if let Some((_, flag)) = SUBCOMMANDS.iter().find(|(word, _)| *word == s) {
                    out.push((*flag).into());
                    continue;
                }
            }
            out.push(arg);
        }
    }
    out
}

/// Split a short-option cluster (without its leading `-`): digit runs become
/// `--level=N`, the other flags stay together. Returns true when the cluster
/// ends with a value-taking flag whose value is the next argument.
fn split_short_cluster(cluster: &str, out: &mut Vec<OsString>) -> bool {
    let chars: Vec<char> = cluster.chars().collect();
    let mut pending = String::new();
    let flush = |pending: &mut String, out: &mut Vec<OsString>| {
        if !pending.is_empty() {
            out.push(format!("-{pending}").into());
            pending.clear();
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            flush(&mut pending, out);
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            out.push(format!("--level={digits}").into());
        } else if SHORT_WITH_VALUE.contains(&c) {
            // The rest of the cluster is the value.
            let rest: String = chars[i..].iter().collect();
            pending.push_str(&rest);
            flush(&mut pending, out);
            return rest.chars().count() == 1;
        } else {
            pending.push(c);
            i += 1;
        }
    }
    flush(&mut pending, out);
    false
}

/// Flags implied by the program's name, as `unzstd` and `zstdcat`.
fn implied_by_name(argv0: &std::ffi::OsStr) -> &'static [&'static str] {
    let stem = std::path::Path::new(argv0).file_stem().and_then(|s| s.to_str()).unwrap_or("");
    match stem {
        "unnzip" => &["-d"],
        "nzcat" => &["-d", "-c"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pre(args: &[&str]) -> Vec<String> {
        let v: Vec<OsString> =
            std::iter::once("nzip").chain(args.iter().copied()).map(OsString::from).collect();
        preprocess(v).into_iter().skip(1).map(|s| s.into_string().unwrap()).collect()
    }

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    fn settings_env(args: &[&str], env: &dyn Fn(&str) -> Option<OsString>) -> Settings {
        let v = std::iter::once("nzip").chain(args.iter().copied());
        match parse(v, env) {
            Ok(Parsed::Run(s)) => s,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn settings(args: &[&str]) -> Settings {
        settings_env(args, &no_env)
    }

    fn parse_err(args: &[&str]) -> String {
        let v = std::iter::once("nzip").chain(args.iter().copied());
        match parse(v, &no_env) {
            Err(ArgError(m)) => m,
            other => panic!("{args:?} should fail: {other:?}"),
        }
    }

    #[test]
    fn preprocess_levels_and_clusters() {
        assert_eq!(pre(&["-9"]), ["--level=9"]);
        assert_eq!(pre(&["-9c", "f"]), ["--level=9", "-c", "f"]);
        assert_eq!(pre(&["-c9"]), ["-c", "--level=9"]);
        assert_eq!(pre(&["-k1v"]), ["-k", "--level=1", "-v"]);
        assert_eq!(pre(&["-dc"]), ["-dc"]);
        assert_eq!(pre(&["-12"]), ["--level=12"]);
        assert_eq!(pre(&["--fast", "--best"]), ["--level=1", "--level=9"]);
    }

    #[test]
    fn preprocess_leaves_values_alone() {
        assert_eq!(pre(&["-T2"]), ["-T2"]);
        assert_eq!(pre(&["-9T2"]), ["--level=9", "-T2"]);
        assert_eq!(pre(&["-T", "2"]), ["-T", "2"]);
        assert_eq!(pre(&["-o", "-9"]), ["-o", "-9"]);
        assert_eq!(pre(&["-co", "-5x"]), ["-co", "-5x"]);
        assert_eq!(pre(&["-o9x"]), ["-o9x"]);
        assert_eq!(pre(&["--output", "-3"]), ["--output", "-3"]);
        assert_eq!(pre(&["--threads", "4", "-3"]), ["--threads", "4", "--level=3"]);
        assert_eq!(pre(&["--", "-9", "compress"]), ["--", "-9", "compress"]);
        assert_eq!(pre(&["-"]), ["-"]);
    }

    #[test]
    fn preprocess_subcommands() {
        assert_eq!(pre(&["decompress", "a.nz"]), ["--decompress", "a.nz"]);
        assert_eq!(pre(&["-v", "list", "a.nz"]), ["-v", "--list", "a.nz"]);
        assert_eq!(pre(&["a", "test"]), ["a", "test"]);
        assert_eq!(pre(&["-o", "test", "compress"]), ["-o", "test", "--compress"]);
        assert_eq!(pre(&["./compress"]), ["./compress"]);
    }

    #[test]
    fn every_value_taking_option_is_known_to_preprocess() {
        for arg in Cli::command().get_arguments() {
            if !arg.get_action().takes_values() || arg.is_positional() {
                continue;
            }
            if let Some(c) = arg.get_short() {
                assert!(SHORT_WITH_VALUE.contains(&c), "-{c} takes a value");
            }
            if let Some(l) = arg.get_long() {
                assert!(LONG_WITH_VALUE.contains(&format!("--{l}").as_str()), "--{l} takes a value");
            }
        }
    }

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let s = settings(&[]);
        assert_eq!(s.mode, Mode::Compress);
        assert_eq!(s.inputs, [Input::Stdin]);
        assert_eq!(s.output, OutputChoice::Default);
        assert_eq!(s.level, DEFAULT_LEVEL);
        assert_eq!(s.threads, DEFAULT_THREADS);
        assert_eq!(s.coder, CoderKind::Range);
        assert!(!s.remove_input && !s.force && !s.verify && !s.json && s.progress);
    }

    #[test]
    fn modes_last_wins() {
        assert_eq!(settings(&["-d"]).mode, Mode::Decompress);
        assert_eq!(settings(&["-t"]).mode, Mode::Test);
        assert_eq!(settings(&["-l"]).mode, Mode::List);
        assert_eq!(settings(&["-d", "-z"]).mode, Mode::Compress);
        assert_eq!(settings(&["-z", "-d"]).mode, Mode::Decompress);
        assert_eq!(settings(&["-dt"]).mode, Mode::Test);
        assert_eq!(settings(&["-td"]).mode, Mode::Decompress);
        assert_eq!(settings(&["-l", "-t", "-d", "-d"]).mode, Mode::Decompress);
        assert_eq!(settings(&["decompress", "x.nz"]).mode, Mode::Decompress);
        assert_eq!(settings(&["test", "x.nz"]).mode, Mode::Test);
        assert_eq!(settings(&["list", "x.nz"]).mode, Mode::List);
        assert_eq!(settings(&["compress", "x"]).mode, Mode::Compress);
        assert_eq!(settings(&["--uncompress"]).mode, Mode::Decompress);
    }

    #[test]
    fn combined_short_flags() {
        let s = settings(&["-dc", "a.nz"]);
        assert_eq!(s.mode, Mode::Decompress);
        assert_eq!(s.output, OutputChoice::Stdout);
        assert_eq!(s.inputs, [Input::Path("a.nz".into())]);

        let s = settings(&["-9c"]);
        assert_eq!((s.level, &s.output), (9, &OutputChoice::Stdout));

        let s = settings(&["-kv"]);
        assert_eq!(s.verbose, 1);
        assert!(!s.remove_input);

        let s = settings(&["-qq"]);
        assert_eq!(s.quiet, 2);
        let s = settings(&["-v", "-v", "--json"]);
        assert_eq!((s.verbose, s.json), (2, true));
        let s = settings(&["-dcT3", "x.nz"]);
        assert_eq!((s.mode, s.threads), (Mode::Decompress, 3));
    }

    #[test]
    fn levels() {
        assert_eq!(settings(&["-1"]).level, 1);
        assert_eq!(settings(&["-9", "-3"]).level, 3);
        assert_eq!(settings(&["--level", "7"]).level, 7);
        assert_eq!(settings(&["-2", "--level=8"]).level, 8);
        assert_eq!(settings(&["--best"]).level, 9);
        assert!(parse_err(&["-0"]).contains("--level"));
        assert!(parse_err(&["--level=10"]).contains("--level"));
    }

    #[test]
    fn environment_and_precedence() {
        let env = |k: &str| match k {
            ENV_LEVEL => Some(OsString::from("2")),
            ENV_THREADS => Some(OsString::from(" 3 ")),
            _ => None,
        };
        let s = settings_env(&[], &env);
        assert_eq!((s.level, s.threads), (2, 3));
        let s = settings_env(&["-8", "-T5"], &env);
        assert_eq!((s.level, s.threads), (8, 5));

        let bad = |k: &str| (k == ENV_LEVEL).then(|| OsString::from("fast"));
        let v = ["nzip"];
        assert!(matches!(parse(v, &bad), Err(ArgError(m)) if m.contains("NZIP_LEVEL")));
        // The level is irrelevant when decompressing.
        assert_eq!(settings_env(&["-d"], &bad).mode, Mode::Decompress);

        let bad = |k: &str| (k == ENV_THREADS).then(|| OsString::from("-1"));
        assert!(matches!(parse(v, &bad), Err(ArgError(m)) if m.contains("NZIP_THREADS")));
    }

    #[test]
    fn keep_and_rm_last_wins() {
        assert!(settings(&["--rm"]).remove_input);
        assert!(!settings(&["--rm", "-k"]).remove_input);
        assert!(settings(&["-k", "--rm"]).remove_input);
        assert!(!settings(&["-k", "-k"]).remove_input);
    }

    #[test]
    fn outputs() {
        assert_eq!(settings(&["-o", "x", "a"]).output, OutputChoice::Path("x".into()));
        assert_eq!(settings(&["-o", "-", "a"]).output, OutputChoice::Stdout);
        assert_eq!(settings(&["--stdout"]).output, OutputChoice::Stdout);
        assert!(parse_err(&["-o", "x", "a", "b"]).contains("one input"));
        assert!(parse_err(&["-c", "-o", "x", "a"]).contains("cannot be used"));
        let s = settings(&["a", "-", "b"]);
        assert_eq!(s.inputs, [Input::Path("a".into()), Input::Stdin, Input::Path("b".into())]);
        let s = settings(&["--", "-9"]);
        assert_eq!(s.inputs, [Input::Path("-9".into())]);
    }

    #[test]
    fn compression_options() {
        let s = settings(&["--coder", "ans", "--chunk-size", "64K", "--verify", "-T0"]);
        assert_eq!(s.coder, CoderKind::Ans);
        assert_eq!(s.chunk_size, Some(65536));
        assert!(s.verify);
        assert_eq!(s.threads, 0);
        assert!(parse_err(&["--coder", "huffman"]).contains("range"));
        assert!(parse_err(&["-T", "x"]).contains("thread"));
        assert!(parse_err(&["--chunk-size", "2G"]).contains("1G"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1"), Ok(1));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("1MB"), Ok(1 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("3X").is_err());
        assert!(parse_size("99999999999999999999999").is_err());
        assert!(parse_size("1025M").is_err());
    }

    #[test]
    fn help_and_version_are_printed_not_errors() {
        for flag in ["-h", "--help"] {
            match parse(["nzip", flag], &no_env) {
                Ok(Parsed::Print(text)) => {
                    assert!(text.contains("Exit status"), "{text}");
                    assert!(text.contains("--decompress"), "{text}");
                }
                other => panic!("{other:?}"),
            }
        }
        match parse(["nzip", "-V"], &no_env) {
            Ok(Parsed::Print(text)) => assert!(text.starts_with("nzip "), "{text}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn program_name_implies_mode() {
        let s = settings_env(&[], &no_env);
        assert_eq!(s.mode, Mode::Compress);
        match parse(["/usr/bin/unnzip", "a.nz"], &no_env) {
            Ok(Parsed::Run(s)) => assert_eq!(s.mode, Mode::Decompress),
            other => panic!("{other:?}"),
        }
        match parse(["nzcat", "a.nz"], &no_env) {
            Ok(Parsed::Run(s)) => {
                assert_eq!(s.mode, Mode::Decompress);
                assert_eq!(s.output, OutputChoice::Stdout);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_option_is_an_error() {
        assert!(parse_err(&["--frobnicate"]).contains("--frobnicate"));
    }
}
