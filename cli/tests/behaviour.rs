//! The gzip/xz/zstd habits of `nzip`: names, overwriting, keeping and
//! removing inputs, damaged input, listing, metadata, terminals, pipes and the
//! exit-status contract (0 success, 1 error, 2 warning).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use predicates::prelude::*;
use std::fs;
use std::path::{Path, PathBuf};

/// A temporary directory with `name` holding `data`.
fn setup(name: &str, data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    fs::write(&p, data).unwrap();
    (dir, p)
}

fn nz(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".nz");
    PathBuf::from(s)
}

#[test]
fn existing_output_is_not_overwritten_without_force() {
    let (dir, a) = setup("a", b"hello hello hello");
    fs::write(nz(&a), b"precious").unwrap();
    nzip()
        .arg(&a)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("a.nz").and(predicate::str::contains("-f")));
    assert_eq!(fs::read(nz(&a)).unwrap(), b"precious");
    assert_eq!(listing(dir.path()), ["a", "a.nz"], "no temporary file left");

    nzip().arg("-f").arg(&a).assert().success();
    assert_ne!(fs::read(nz(&a)).unwrap(), b"precious");

    // Decompressing over an existing file: same rule.
    fs::write(&a, b"other").unwrap();
    nzip().arg("-d").arg(nz(&a)).assert().code(1).stderr(predicate::str::contains("-f"));
    assert_eq!(fs::read(&a).unwrap(), b"other");
    nzip().args(["-d", "-f"]).arg(nz(&a)).assert().success();
    assert_eq!(fs::read(&a).unwrap(), b"hello hello hello");
}

#[test]
fn keep_is_the_default_and_rm_removes_only_after_success() {
    let (dir, a) = setup("a", &text_like(10_000, 1));
    nzip().arg(&a).assert().success();
    assert!(a.exists());
    fs::remove_file(nz(&a)).unwrap();
    nzip().arg("-k").arg(&a).assert().success();
    assert!(a.exists() && nz(&a).exists());

    // --rm with a failure (existing output): the input stays.
    nzip().arg("--rm").arg(&a).assert().code(1);
    assert!(a.exists());
    // --rm -k: the last wins, the input stays.
    nzip().args(["-f", "--rm", "-k"]).arg(&a).assert().success();
    assert!(a.exists());
    // --rm on success: removed.
    nzip().args(["-f", "--rm"]).arg(&a).assert().success();
    assert!(!a.exists() && nz(&a).exists());
    // --rm when decompressing.
    nzip().args(["-d", "--rm"]).arg(nz(&a)).assert().success();
    assert!(a.exists() && !nz(&a).exists());
    // -c never removes.
    nzip().args(["--rm", "-c"]).arg(&a).assert().success();
    assert!(a.exists());
    assert_eq!(listing(dir.path()), ["a"]);
}

#[test]
fn output_and_stdout_options() {
    let data = text_like(20_000, 2);
    let (dir, a) = setup("a", &data);
    let o = dir.path().join("custom.bin");
    nzip().arg("-o").arg(&o).arg(&a).assert().success().stdout("");
    assert!(o.exists() && !nz(&a).exists());
    let back = dir.path().join("back");
    nzip().args(["-d", "-o"]).arg(&back).arg(&o).assert().success();
    assert_eq!(fs::read(&back).unwrap(), data);

    // -c writes to stdout, creates nothing, keeps the input.
    let out = nzip().arg("-c").arg(&a).output().unwrap();
    assert!(out.status.success());
    assert_eq!(decompress_stdin(&out.stdout, &[]), data);
    // -o - is standard output.
    let out2 = nzip().args(["-o", "-"]).arg(&a).output().unwrap();
    assert_eq!(out.stdout, out2.stdout);
    // -dc, combined.
    let out = nzip().arg("-dc").arg(&o).output().unwrap();
    assert!(out.status.success() && out.stdout == data);
    // -9c, combined: level 9 on stdout.
    let out = nzip().arg("-9c").arg(&a).output().unwrap();
    assert!(out.status.success());
    let p9 = dir.path().join("p9.nz");
    fs::write(&p9, &out.stdout).unwrap();
    assert_eq!(list_json(&p9)["files"][0]["frames"][0]["level"], 9);

    // -o takes one input only.
    nzip()
        .arg("-o")
        .arg(&o)
        .arg(&a)
        .arg(&back)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("one input"));
    let mut names = listing(dir.path());
    names.sort();
    assert_eq!(names, ["a", "back", "custom.bin", "p9.nz"]);
}

#[test]
fn names_without_nz_suffix_are_skipped_when_decompressing() {
    let (dir, a) = setup("plain.bin", &text_like(5_000, 3));
    nzip().arg("-o").arg(dir.path().join("packed")).arg(&a).assert().success();
    let packed = dir.path().join("packed");
    nzip().arg("-d").arg(&packed).assert().code(2).stderr(predicate::str::contains("suffix"));
    // With -c or -o it is decoded.
    nzip().args(["-d", "-c"]).arg(&packed).assert().success();
    // Skipped plus a success: still a warning.
    nzip().arg(&a).assert().success();
    nzip().arg("-d").arg(&packed).arg(nz(&a)).arg("-f").assert().code(2);
    // Compressing a .nz file is skipped without -f.
    nzip().arg(nz(&a)).assert().code(2).stderr(predicate::str::contains("-f"));
    nzip().arg("-f").arg(nz(&a)).assert().success();
    assert!(dir.path().join("plain.bin.nz.nz").exists());
}

#[test]
fn directories_are_skipped_and_failures_do_not_stop_the_others() {
    let (dir, a) = setup("a", b"some data");
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    nzip().arg(&sub).assert().code(2).stderr(predicate::str::contains("directory"));
    // missing, directory, good: the good one is done; the worst status is 1.
    let missing = dir.path().join("missing");
    nzip()
        .arg(&missing)
        .arg(&sub)
        .arg(&a)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing").and(predicate::str::contains("directory")));
    assert!(nz(&a).exists());
}

/// Corrupt inputs: exit 1, a clear message naming the file, no output left,
/// the input kept; `-t` agrees.
#[test]
fn damaged_files_are_rejected() {
    let data = text_like(200_000, 4);
    let (dir, a) = setup("a", &data);
    nzip().args(["--chunk-size", "32K"]).arg(&a).assert().success();
    let good = fs::read(nz(&a)).unwrap();
    fs::remove_file(&a).unwrap();
    nzip().arg("-t").arg(nz(&a)).assert().success().stdout("").stderr("");

    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in [good.len() - 1, good.len() / 2, 20, 5] {
        cases.push((format!("truncated at {cut}"), good[..cut].to_vec()));
    }
    for pos in [0, 12, good.len() / 3, good.len() / 2, good.len() - 3] {
        let mut bad = good.clone();
        bad[pos] ^= 0x10;
        cases.push((format!("bit flipped at {pos}"), bad));
    }
    cases.push(("not nzip".to_owned(), b"just some text, not compressed".to_vec()));
    for (what, bytes) in cases {
        let bad = dir.path().join("bad.nz");
        fs::write(&bad, &bytes).unwrap();
        let out = nzip().arg("-d").arg(&bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.starts_with("nzip: ") && stderr.contains("bad.nz:"), "{what}: {stderr}");
        // A flipped bit in a section tag reads as an unknown critical section
        // ("unsupported ... newer nzip ..., unless the file is damaged").
        assert!(
            stderr.contains("damaged") || stderr.contains("truncated") || stderr.contains("not an nzip"),
            "{what}: {stderr}"
        );
        assert_eq!(listing(dir.path()), ["a.nz", "bad.nz"], "{what}: no output left behind");
        assert_eq!(fs::read(&bad).unwrap(), bytes, "{what}: input kept");
        nzip().arg("-t").arg(&bad).assert().code(1);
        nzip().args(["-d", "--rm"]).arg(&bad).assert().code(1);
        assert!(bad.exists(), "{what}: --rm keeps a damaged input");
        // Through a pipe: exit 1 as well.
        nzip().arg("-d").write_stdin(bytes.clone()).assert().code(1);
    }
}

#[test]
fn list_shows_sizes() {
    let data = text_like(150_000, 5);
    let (dir, a) = setup("a.txt", &data);
    nzip().args(["-4", "--coder", "ans"]).arg(&a).assert().success();
    let packed_len = fs::metadata(nz(&a)).unwrap().len();

    let out = nzip().arg("-l").arg(nz(&a)).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("{packed_len}")), "{text}");
    assert!(text.contains(&format!("{}", data.len())), "{text}");
    assert!(text.contains("a.txt.nz"), "{text}");
    assert!(text.contains('%'), "{text}");

    let json = list_json(&nz(&a));
    let f = &json["files"][0];
    assert_eq!(f["original_bytes"].as_u64(), Some(data.len() as u64));
    assert_eq!(f["compressed_bytes"].as_u64(), Some(packed_len));
    let frame = &f["frames"][0];
    assert_eq!(frame["coder"], "ans");
    assert_eq!(frame["level"], 4);
    assert_eq!(frame["content_xxh64"].as_str().unwrap().len(), 16);
    assert!(f["chunks"].as_u64().unwrap() >= 1);
    assert_eq!(json["total"]["files"], 1);

    // Several files, one damaged: the others are listed, status 1.
    let bad = dir.path().join("bad.nz");
    fs::write(&bad, b"garbage").unwrap();
    let out = nzip().args(["-l", "--json"]).arg(nz(&a)).arg(&bad).arg(nz(&a)).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["total"]["files"], 2);
    assert_eq!(json["total"]["original_bytes"].as_u64(), Some(2 * data.len() as u64));
    assert!(json["files"][1]["error"].is_string());
    // Subcommand form and stdin.
    nzip().arg("list").arg(nz(&a)).assert().success().stdout(predicate::str::contains("a.txt.nz"));
    let out = nzip().args(["-l", "--json"]).pipe_stdin(nz(&a)).unwrap().output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["files"][0]["file"], "-");
}

#[test]
fn permissions_and_mtime_are_copied() {
    let (_dir, a) = setup("a", &text_like(5_000, 6));
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_234_567_890);
    fs::File::options().write(true).open(&a).unwrap().set_modified(old).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&a, fs::Permissions::from_mode(0o640)).unwrap();
    }
    nzip().arg("--rm").arg(&a).assert().success();
    let m = fs::metadata(nz(&a)).unwrap();
    assert_eq!(m.modified().unwrap(), old);
    nzip().arg("-d").arg(nz(&a)).assert().success();
    let m = fs::metadata(&a).unwrap();
    assert_eq!(m.modified().unwrap(), old);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
    }
}

#[test]
fn subcommands_and_mode_flags() {
    let data = text_like(8_000, 7);
    let (dir, a) = setup("a", &data);
    nzip().arg("compress").arg(&a).assert().success();
    fs::remove_file(&a).unwrap();
    nzip().arg("test").arg(nz(&a)).assert().success();
    nzip().arg("decompress").arg(nz(&a)).assert().success();
    assert_eq!(fs::read(&a).unwrap(), data);
    // The last mode flag wins: -d then -z compresses.
    nzip().args(["-d", "-z", "-f"]).arg(&a).assert().success();
    // A file named like a subcommand, given as a path.
    let named = dir.path().join("test");
    fs::write(&named, b"x").unwrap();
    nzip().arg(&named).assert().success();
    assert!(dir.path().join("test.nz").exists());
}

#[test]
fn environment_defaults_and_precedence() {
    let data = text_like(30_000, 8);
    let one = nzip().env("NZIP_LEVEL", "1").write_stdin(data.clone()).output().unwrap();
    assert!(one.status.success());
    let (dir, p) = setup("one.nz", &one.stdout);
    assert_eq!(list_json(&p)["files"][0]["frames"][0]["level"], 1);
    let two = nzip().env("NZIP_LEVEL", "9").arg("-2").write_stdin(data.clone()).output().unwrap();
    let q = dir.path().join("two.nz");
    fs::write(&q, &two.stdout).unwrap();
    assert_eq!(list_json(&q)["files"][0]["frames"][0]["level"], 2);
    nzip()
        .env("NZIP_LEVEL", "11")
        .write_stdin(data.clone())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("NZIP_LEVEL"));
    nzip()
        .env("NZIP_THREADS", "many")
        .write_stdin(data.clone())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("NZIP_THREADS"));
    let t = nzip().env("NZIP_THREADS", "2").write_stdin(data).output().unwrap();
    assert!(t.status.success());
}

#[test]
fn exit_status_contract() {
    // 0: help, version, success.
    nzip().arg("--help").assert().code(0).stdout(predicate::str::contains("Exit status"));
    nzip().arg("-h").assert().code(0);
    nzip().arg("-V").assert().code(0).stdout(predicate::str::starts_with("nzip "));
    nzip().write_stdin("abc").assert().code(0);
    // 1: bad arguments.
    for bad in [
        &["--bogus"][..],
        &["-0"],
        &["--level", "10"],
        &["--coder", "x"],
        &["-T", "-3"],
        &["--chunk-size", "0"],
    ] {
        nzip().args(bad).write_stdin("abc").assert().code(1).stderr(predicate::str::starts_with("nzip: "));
    }
    // 1: failures; 2: only skips; 1 beats 2.
    let (dir, a) = setup("a", b"data");
    nzip().arg(dir.path().join("nope")).assert().code(1);
    nzip().arg(dir.path()).assert().code(2);
    nzip().arg(dir.path()).arg(dir.path().join("nope")).assert().code(1);
    nzip().arg(&a).arg(dir.path()).assert().code(2);
    // -q hides warnings, -qq errors too; the status is the same.
    nzip().arg("-q").arg(dir.path()).assert().code(2).stderr("");
    nzip().arg("-qq").arg(dir.path().join("nope")).assert().code(1).stderr("");
}

/// Closing standard output early (`nzip -dc big.nz | head -c 16`) is not an
/// error: exit 0, nothing on stderr.
#[test]
fn broken_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // 3 MiB of zeros: cheap to code, and far more than the pipe and nzip's
    // output buffer hold, so nzip is still writing when the reader leaves.
    let packed = compress_stdin(&vec![0u8; 3 << 20], &["-1"]);
    let (_dir, a) = setup("zeros.nz", &packed);
    let mut child = Command::new(env!("CARGO_BIN_EXE_nzip"))
        .arg("-dc")
        .arg(&a)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Compressed data is not written to, nor read from, a terminal without -f.
/// Needs util-linux `script` for a pseudo-terminal; skipped without it.
#[test]
fn terminals_are_refused_without_force() {
    let script = Path::new("/usr/bin/script");
    if !script.exists() || cfg!(not(target_os = "linux")) {
        eprintln!("no /usr/bin/script: skipped");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_nzip");
    let run = |cmd: &str| {
        std::process::Command::new(script)
            .args(["-qec", cmd, "/dev/null"])
            .env_remove("NZIP_LEVEL")
            .env_remove("NZIP_THREADS")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&format!("{bin} < /dev/null"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("terminal") && text.contains("-f"), "{text}");

    let out = run(&format!("{bin} -d > /dev/null"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("terminal") && text.contains("-f"), "{text}");

    let out = run(&format!("{bin} -f < /dev/null"));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}
