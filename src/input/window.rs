//! The first `len` bytes of a file as a file of its own (read and seek),
//! so the service reads a snapshot of an XLSX that may still grow without
//! copying it into memory.
//!
//! Invariant: moves bytes only; knows no format.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Bytes `0..len` of `file`; the end of the window is its end of file.
#[derive(Debug)]
pub(crate) struct Window {
    file: File,
    len: u64,
    position: u64,
}

impl Window {
    /// The first `len` bytes of `file` (fewer when the file is shorter).
    pub(crate) fn new(mut file: File, len: u64) -> io::Result<Window> {
        let size = file.seek(SeekFrom::End(0))?;
        file.seek(SeekFrom::Start(0))?;
        Ok(Window {
            file,
            len: len.min(size),
            position: 0,
        })
    }
}

impl Read for Window {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.position);
        let wanted = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        if wanted == 0 {
            return Ok(0);
        }
        let read = self.file.read(&mut buffer[..wanted])?;
        self.position += read as u64;
        Ok(read)
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "posição inválida"))?;
        // Past the end is allowed (as for a file); reads there give nothing.
        self.file.seek(SeekFrom::Start(target))?;
        self.position = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, SeekFrom, Write};

    use super::Window;

    #[test]
    fn reads_and_seeks_as_a_file_of_the_first_bytes() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        let mut window = Window::new(file, 6).unwrap();
        let mut all = String::new();
        window.read_to_string(&mut all).unwrap();
        assert_eq!(all, "012345");
        assert_eq!(window.seek(SeekFrom::End(-2)).unwrap(), 4);
        let mut tail = String::new();
        window.read_to_string(&mut tail).unwrap();
        assert_eq!(tail, "45");
        assert_eq!(window.seek(SeekFrom::Current(-3)).unwrap(), 3);
        let mut byte = [0; 1];
        window.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"3");
        assert!(window.seek(SeekFrom::End(-7)).is_err());
    }

    #[test]
    fn a_window_past_the_end_of_a_shorter_file_is_the_file() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"abc").unwrap();
        let mut window = Window::new(file, 100).unwrap();
        assert_eq!(window.seek(SeekFrom::End(0)).unwrap(), 3);
    }
}
