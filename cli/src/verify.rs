//! `--verify`: decode the compressed stream while it is being written and
//! compare the decoded content with the input (like `flac -V`).
//!
//! The compressed bytes are copied ([`Tee`]) into a bounded channel that a
//! second thread decodes; the input's length and XXH64 are taken as it is read
//! ([`HashingReader`]) and compared with those of the decoded content. This
//! works for standard output too, where the output cannot be read back.

use nzip_codec::{CompressOptions, DecompressOptions, Progress, Stats};
use nzip_format::ContentHasher;
use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes gathered before a block is handed to the verifying decoder.
const BLOCK: usize = 256 << 10;
/// Blocks in flight between the compressor and the verifying decoder.
const DEPTH: usize = 16;

/// Why a verified compression failed.
#[derive(Debug)]
pub enum VerifyError {
    /// The compression itself failed.
    Compress(nzip_codec::Error),
    /// Writing the compressed stream failed.
    Write(io::Error),
    /// The output does not decode.
    Decode(nzip_codec::Error),
    /// The output decodes to something else than the input.
    Mismatch {
        /// Input bytes read.
        input_len: u64,
        /// Bytes decoded.
        decoded_len: u64,
    },
    /// The verifying thread panicked.
    Panicked,
}

/// Compress `input` to `output` and decode the output concurrently; succeed
/// only when the decoded content has the input's length and XXH64.
pub fn compress_verified<R: Read, W: Write>(
    input: R,
    output: W,
    content_size: Option<u64>,
    copts: &CompressOptions,
    dopts: &DecompressOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Stats, VerifyError> {
    let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
    std::thread::scope(|scope| {
        let checker = scope.spawn(move || {
            let mut sink = HashingWriter::default();
            let r = nzip_codec::decompress(ChannelReader::new(rx), &mut sink, dopts, &mut |_| {});
            (r, sink)
        });
        let mut reader = HashingReader::new(input);
        let mut tee = Tee::new(output, tx);
        let compressed = nzip_codec::compress(&mut reader, &mut tee, content_size, copts, progress);
        let finished = tee.finish();
        // The decoder sees the end of the stream now that the sender is gone.
        let checked = checker.join();
        let stats = compressed.map_err(VerifyError::Compress)?;
        finished.map_err(VerifyError::Write)?;
        let (decoded, sink) = checked.map_err(|_| VerifyError::Panicked)?;
        decoded.map_err(VerifyError::Decode)?;
        let same_bytes = sink.len == reader.len && sink.hasher.finish() == reader.hasher.finish();
        let same_image = || match (&reader.kept.data, &sink.kept.data) {
            (Some(a), Some(b)) => nzip_codec::media::image::equivalent(a, b),
            _ => false,
        };
        if !same_bytes && !same_image() {
            return Err(VerifyError::Mismatch { input_len: reader.len, decoded_len: sink.len });
        }
        Ok(stats)
    })
}

/// A copy of a stream that starts like an image (PNG or PNM), kept so that
/// a restored image can be compared by pixels and metadata.
#[derive(Debug)]
struct ImageCopy {
    /// The first bytes, until the stream is known to be an image or not.
    head: Vec<u8>,
    /// The whole stream, once it starts like an image.
    data: Option<Vec<u8>>,
    /// False once the stream is known not to be an image (or too large).
    open: bool,
}

/// Largest image copy kept (bytes): the image path reads no larger files.
const MAX_IMAGE_COPY: usize = 1 << 30;

impl Default for ImageCopy {
    fn default() -> Self {
        ImageCopy { head: Vec::new(), data: None, open: true }
    }
}

impl ImageCopy {
    fn update(&mut self, buf: &[u8]) {
        if !self.open {
            return;
        }
        if let Some(d) = &mut self.data {
            if d.len() + buf.len() > MAX_IMAGE_COPY {
                self.data = None;
                self.open = false;
            } else {
                d.extend_from_slice(buf);
            }
            return;
        }
        self.head.extend_from_slice(buf);
        if self.head.len() >= 8 {
            if nzip_codec::media::image::sniff(&self.head).is_some() {
                self.data = Some(std::mem::take(&mut self.head));
            } else {
                self.open = false;
                self.head = Vec::new();
            }
        }
    }
}

/// A reader that counts and hashes what passes through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: ContentHasher,
    len: u64,
    kept: ImageCopy,
}

impl<R> HashingReader<R> {
    /// Wrap `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: ContentHasher::new(), len: 0, kept: ImageCopy::default() }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or(&[]);
        self.hasher.update(got);
        self.kept.update(got);
        self.len += n as u64;
        Ok(n)
    }
}

/// A writer that only counts and hashes (and keeps a copy of an image).
#[derive(Debug, Default)]
pub struct HashingWriter {
    hasher: ContentHasher,
    len: u64,
    kept: ImageCopy,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.kept.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes to `inner` and sends a copy, in blocks, to a channel. If the
/// receiving side has gone (the decoder stopped), copies are dropped: the
/// decoder's result reports the problem.
#[derive(Debug)]
struct Tee<W> {
    inner: W,
    tx: Option<SyncSender<Vec<u8>>>,
    pending: Vec<u8>,
}

impl<W: Write> Tee<W> {
    fn new(inner: W, tx: SyncSender<Vec<u8>>) -> Self {
        Tee { inner, tx: Some(tx), pending: Vec::with_capacity(BLOCK) }
    }

    fn send_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let block = std::mem::replace(&mut self.pending, Vec::with_capacity(BLOCK));
        if let Some(tx) = &self.tx {
            if tx.send(block).is_err() {
                self.tx = None;
            }
        }
    }

    /// Flush the output, hand the last block over and close the channel.
    fn finish(&mut self) -> io::Result<()> {
        let flushed = self.inner.flush();
        self.send_pending();
        self.tx = None;
        flushed
    }
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.tx.is_some() {
            self.pending.extend_from_slice(buf.get(..n).unwrap_or(&[]));
            if self.pending.len() >= BLOCK {
                self.send_pending();
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W> Drop for Tee<W> {
    fn drop(&mut self) {
        // Close the channel even on an early return, so the decoder ends.
        self.tx = None;
    }
}

/// Reads the blocks sent by a [`Tee`]; the end of the channel is the end of
/// the stream.
#[derive(Debug)]
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    block: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: Receiver<Vec<u8>>) -> Self {
        ChannelReader { rx, block: Vec::new(), pos: 0 }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.block.len() {
            match self.rx.recv() {
                Ok(block) => {
                    self.block = block;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let rest = self.block.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tee_and_channel_carry_everything() {
        let (tx, rx) = sync_channel(2);
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let reader = std::thread::spawn(move || {
            let mut r = ChannelReader::new(rx);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            got
        });
        let mut out = Vec::new();
        let mut tee = Tee::new(&mut out, tx);
        for piece in data.chunks(1000) {
            tee.write_all(piece).unwrap();
        }
        tee.finish().unwrap();
        drop(tee);
        assert_eq!(reader.join().unwrap(), data);
        assert_eq!(out, data);
    }

    #[test]
    fn tee_survives_a_departed_reader() {
        let (tx, rx) = sync_channel(1);
        drop(rx);
        let mut out = Vec::new();
        let mut tee = Tee::new(&mut out, tx);
        tee.write_all(&vec![1u8; 3 * BLOCK]).unwrap();
        tee.finish().unwrap();
        drop(tee);
        assert_eq!(out.len(), 3 * BLOCK);
    }

    #[test]
    fn hashing_reader_matches_content_hash() {
        let data = b"hello, world".repeat(100);
        let mut r = HashingReader::new(&data[..]);
        let mut sink = Vec::new();
        r.read_to_end(&mut sink).unwrap();
        assert_eq!(r.len, data.len() as u64);
        assert_eq!(r.hasher.finish(), nzip_format::content_hash(&data));
    }
}
