//! Lets go of the start-up code's pages once `serve` is ready.
//!
//! A start runs code from all over the binary (config parsing, component
//! loading, the listener's set-up, clap), and the kernel maps 64 KiB of
//! the file around each page a fault touches. At idle that left about
//! 24 MiB of the binary's read-only pages in the process's resident set,
//! most of it code that will not run again (BENCHMARKS.md, issue 18).
//!
//! [`release_startup_pages`] drops this process's mappings of the
//! binary's read-only segments (`MADV_DONTNEED`). Nothing is lost: those
//! pages are the unmodified file, they stay in the page cache, and
//! whatever runs next faults its own pages back in (a minor fault, no
//! disk read). Writable segments, including the relocated read-only data
//! (`PT_GNU_RELRO` lies inside a writable `PT_LOAD`), are never touched:
//! their pages are private copies that `MADV_DONTNEED` would discard.

/// What [`release_startup_pages`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    /// Read-only segments of the executable advised.
    pub segments: usize,
    /// Bytes of address space they cover (whole pages only).
    pub bytes: usize,
}

/// Returns the heap the start freed to the system. glibc keeps freed
/// memory at the top of each arena for reuse; what the start allocated
/// and dropped (the config, the manifests, decompressed components) stays
/// resident otherwise: about 0.5 MiB on the default configuration.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it takes the arenas' locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Drops the executable's read-only pages from the resident set; see the
/// module documentation. Only the main program is touched, not shared
/// libraries (the C library's pages are shared with every process).
#[cfg(target_os = "linux")]
pub fn release_startup_pages() -> std::io::Result<Released> {
    let ranges = executable_read_only_ranges();
    let mut released = Released::default();
    for (start, end) in ranges {
        // SAFETY: the range is whole pages of a read-only, file-backed,
        // private mapping of our own executable; MADV_DONTNEED only makes
        // the next access fault the same file contents back in.
        let rc =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        released.segments += 1;
        released.bytes += end - start;
    }
    Ok(released)
}

#[cfg(not(target_os = "linux"))]
pub fn release_startup_pages() -> std::io::Result<Released> {
    Ok(Released::default())
}

/// The size of a page.
#[cfg(target_os = "linux")]
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// One loadable segment of the main program, as mapped.
#[cfg(target_os = "linux")]
struct Segment {
    start: usize,
    end: usize,
    writable: bool,
}

/// Page-aligned `[start, end)` ranges of the main program's loadable
/// segments that are not writable, rounded inwards so no page shared
/// with a writable segment is included.
#[cfg(target_os = "linux")]
fn executable_read_only_ranges() -> Vec<(usize, usize)> {
    unsafe extern "C" fn main_program(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: the loader passes a valid info for the duration of the
        // call; `data` is the `Vec` handed to dl_iterate_phdr below.
        unsafe {
            let info = &*info;
            let out = &mut *(data as *mut Vec<Segment>);
            for i in 0..info.dlpi_phnum as usize {
                let ph = &*info.dlpi_phdr.add(i);
                if ph.p_type == libc::PT_LOAD {
                    let start = info.dlpi_addr as usize + ph.p_vaddr as usize;
                    out.push(Segment {
                        start,
                        end: start + ph.p_memsz as usize,
                        writable: ph.p_flags & libc::PF_W != 0,
                    });
                }
            }
        }
        // The first object is the main program: stop there.
        1
    }
    let mut segments: Vec<Segment> = Vec::new();
    // SAFETY: the callback only reads the headers the loader passes and
    // writes to `segments`, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(
            Some(main_program),
            &mut segments as *mut _ as *mut libc::c_void,
        );
    }
    let page = page_size();
    let (down, up) = (
        |a: usize| a & !(page - 1),
        |a: usize| (a + page - 1) & !(page - 1),
    );
    let writable: Vec<(usize, usize)> = segments
        .iter()
        .filter(|s| s.writable)
        .map(|s| (down(s.start), up(s.end)))
        .collect();
    segments
        .iter()
        .filter(|s| !s.writable)
        .map(|s| (up(s.start), down(s.end)))
        // Never an empty range, nor a page a writable segment also covers.
        .filter(|&(s, e)| s < e && !writable.iter().any(|&(ws, we)| s < we && ws < e))
        .collect()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The code of this very function lies in one of the ranges, and no
    /// range covers a static the program writes.
    #[test]
    fn ranges_hold_the_code_and_none_of_the_writable_data() {
        static mut COUNTER: u64 = 0;
        // SAFETY: only this test touches it.
        unsafe { COUNTER += 1 };
        let code = ranges_hold_the_code_and_none_of_the_writable_data as fn() as usize;
        let data = &raw const COUNTER as usize;
        let ranges = executable_read_only_ranges();
        assert!(!ranges.is_empty());
        assert!(
            ranges.iter().any(|&(s, e)| s <= code && code < e),
            "{code:#x} not in {ranges:x?}"
        );
        assert!(
            !ranges.iter().any(|&(s, e)| s <= data && data < e),
            "{data:#x} in {ranges:x?}"
        );
    }

    /// Read-only data of this binary that no other test reads.
    static PATTERN: [u8; 256 * 1024] = {
        let mut bytes = [0u8; 256 * 1024];
        let mut i = 0;
        while i < bytes.len() {
            bytes[i] = (i % 251) as u8 + 1;
            i += 1;
        }
        bytes
    };

    fn pattern_sum() -> u64 {
        std::hint::black_box(&PATTERN)
            .iter()
            .map(|&b| u64::from(b))
            .sum()
    }

    /// Whether the page holding `addr` is mapped in this process
    /// (`/proc/self/pagemap`, bit 63), whatever the page cache holds.
    fn mapped(addr: usize) -> bool {
        use std::os::unix::fs::FileExt;
        let page = page_size();
        let file = std::fs::File::open("/proc/self/pagemap").unwrap();
        let mut entry = [0u8; 8];
        file.read_exact_at(&mut entry, (addr / page * 8) as u64)
            .unwrap();
        u64::from_le_bytes(entry) >> 63 == 1
    }

    /// Released pages leave this process's mappings, and reading them
    /// again brings back the same bytes.
    #[test]
    fn released_pages_leave_the_mapping_and_come_back_on_use() {
        let expected = pattern_sum();
        // A page well inside the array, so not shared with other data.
        let probe = PATTERN.as_ptr() as usize + 128 * 1024;
        assert!(mapped(probe), "read a moment ago");
        let released = release_startup_pages().unwrap();
        assert!(released.segments >= 1 && released.bytes > 0, "{released:?}");
        assert!(!mapped(probe), "still mapped after the release");
        assert_eq!(pattern_sum(), expected);
        assert!(mapped(probe), "read again");
    }
}
