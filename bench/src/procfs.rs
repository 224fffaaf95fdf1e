//! What `/proc` says about a process: PSS, RSS and USS (`smaps_rollup`), its
//! mappings and what its anonymous ones are (`smaps`, the threads' stack pointers),
//! context switches summed over its threads (`task/*/status`), CPU time (`stat`
//! utime + stime), and its descendants (the window process is the resident's child,
//! WebKit's web and network processes the window's).

use std::collections::HashMap;

/// Clock ticks per second for `/proc/<pid>/stat` times (USER_HZ; 100 on Linux).
pub const USER_HZ: f64 = 100.0;

/// Proportional set size in KiB (`Pss:` of `/proc/<pid>/smaps_rollup`).
pub fn pss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    field_kib(&text, "Pss:")
}

/// Resident set size in KiB (`Rss:` of `smaps_rollup`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    field_kib(&text, "Rss:")
}

/// Any `smaps_rollup` field in KiB (`Pss_Anon:`, `Pss_File:`, ...).
pub fn rollup_kib(pid: u32, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    field_kib(&text, name)
}

fn field_kib(text: &str, name: &str) -> Option<u64> {
    text.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok()
}

/// Where `pid`'s PSS is, in KiB: summed per mapped file (by file name) and per
/// kind of anonymous memory (`[heap]`, `[stack]`, `[anon]`), largest first, from
/// `/proc/<pid>/smaps`: the profile behind a memory figure.
pub fn pss_by_mapping(pid: u32) -> Vec<(String, u64)> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else { return Vec::new() };
    let mut sums: HashMap<String, u64> = HashMap::new();
    let mut current = String::from("[anon]");
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            // A mapping header: range perms offset dev inode [path].
            let path = fields.nth(4).unwrap_or("");
            current = if path.is_empty() {
                "[anon]".into()
            } else if path.starts_with('[') {
                path.to_owned()
            } else {
                path.rsplit('/').next().unwrap_or(path).to_owned()
            };
        } else if first == "Pss:" {
            let kib: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            *sums.entry(current.clone()).or_default() += kib;
        }
    }
    let mut out: Vec<(String, u64)> = sums.into_iter().filter(|(_, k)| *k > 0).collect();
    out.sort_by_key(|(_, kib)| std::cmp::Reverse(*kib));
    out
}

/// The command name (`comm`) of `pid`.
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_owned())
}

/// `pid`'s parent pid.
pub fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command is in parentheses and may hold spaces: fields restart after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `pid` and all its descendants, `pid` first.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut parents: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if let Some(pp) = ppid(p) {
                parents.entry(pp).or_default().push(p);
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        if let Some(children) = parents.get(&out[i]) {
            out.extend(children);
        }
        i += 1;
    }
    out
}

/// PSS of `pid` and every descendant: (total KiB, per process (pid, comm, KiB)).
pub fn tree_pss_kib(pid: u32) -> (u64, Vec<(u32, String, u64)>) {
    let mut total = 0;
    let mut each = Vec::new();
    for p in tree(pid) {
        if let Some(kib) = pss_kib(p) {
            total += kib;
            each.push((p, comm(p).unwrap_or_default(), kib));
        }
    }
    (total, each)
}

/// Context switches (voluntary + involuntary) of every live thread of `pid`.
/// Threads that exited between two readings drop out; the harness reads a settled
/// process whose threads persist.
pub fn ctxt_switches(pid: u32) -> Option<u64> {
    let mut total = 0;
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    for task in dir.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else { continue };
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:").or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:")) {
                total += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    Some(total)
}

/// Number of threads of `pid`.
pub fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count()).unwrap_or(0)
}

/// utime + stime of `pid` (all threads, as `/proc/<pid>/stat` sums them), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(0) ppid(1) ... utime is field 14 of stat, i.e. index 11 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// A reading of wakeups and CPU for a process, to diff over an interval.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: std::time::Instant,
    pub ctxt: u64,
    pub cpu_s: f64,
}

impl Sample {
    pub fn take(pid: u32) -> Option<Sample> {
        Some(Sample { at: std::time::Instant::now(), ctxt: ctxt_switches(pid)?, cpu_s: cpu_seconds(pid)? })
    }

    /// (wakeups per second, CPU percent of one core) from `self` to `later`.
    pub fn rates(&self, later: &Sample) -> (f64, f64) {
        let secs = later.at.duration_since(self.at).as_secs_f64();
        ((later.ctxt.saturating_sub(self.ctxt)) as f64 / secs, (later.cpu_s - self.cpu_s) / secs * 100.0)
    }
}

/// A process's memory from `smaps_rollup`, in KiB. USS (unique set size) is what
/// only this process maps: `Private_Clean + Private_Dirty`, the memory that would be
/// freed if it exited. PSS adds its share of the pages it shares; RSS counts every
/// page it maps in full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mem {
    pub pss: u64,
    pub rss: u64,
    pub uss: u64,
    pub pss_anon: u64,
    pub pss_file: u64,
    pub anonymous: u64,
    pub swap: u64,
}

impl Mem {
    /// Sum of two readings (for a group of processes).
    pub fn add(&self, other: &Mem) -> Mem {
        Mem {
            pss: self.pss + other.pss,
            rss: self.rss + other.rss,
            uss: self.uss + other.uss,
            pss_anon: self.pss_anon + other.pss_anon,
            pss_file: self.pss_file + other.pss_file,
            anonymous: self.anonymous + other.anonymous,
            swap: self.swap + other.swap,
        }
    }
}

/// [`Mem`] of `pid` from one read of `/proc/<pid>/smaps_rollup`.
pub fn mem_kib(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let get = |name: &str| field_kib(&text, name).unwrap_or(0);
    Some(Mem {
        pss: field_kib(&text, "Pss:")?,
        rss: get("Rss:"),
        uss: get("Private_Clean:") + get("Private_Dirty:"),
        pss_anon: get("Pss_Anon:"),
        pss_file: get("Pss_File:"),
        anonymous: get("Anonymous:"),
        swap: get("Swap:"),
    })
}

/// USS in KiB: `Private_Clean + Private_Dirty` of `smaps_rollup`.
pub fn uss_kib(pid: u32) -> Option<u64> {
    mem_kib(pid).map(|m| m.uss)
}

/// [`Mem`] of `pid` and every descendant: (sum, per process (pid, comm, mem)).
pub fn tree_mem(pid: u32) -> (Mem, Vec<(u32, String, Mem)>) {
    let mut total = Mem::default();
    let mut each = Vec::new();
    for p in tree(pid) {
        if let Some(m) = mem_kib(p) {
            total = total.add(&m);
            each.push((p, comm(p).unwrap_or_default(), m));
        }
    }
    (total, each)
}

/// One mapping of `/proc/<pid>/smaps`, sizes in KiB.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    /// The path, `[heap]`, `[stack]`, ... or empty for anonymous memory.
    pub path: String,
    pub size: u64,
    pub rss: u64,
    pub pss: u64,
    pub anonymous: u64,
    pub private: u64,
}

/// Every mapping of `pid`, in address order.
pub fn mappings(pid: u32) -> Vec<Mapping> {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else { return Vec::new() };
    let mut out: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            let (s, e) = first.split_once('-').unwrap_or(("0", "0"));
            let perms = fields.next().unwrap_or("").to_owned();
            let path = fields.nth(3).unwrap_or("").to_owned();
            out.push(Mapping {
                start: u64::from_str_radix(s, 16).unwrap_or(0),
                end: u64::from_str_radix(e, 16).unwrap_or(0),
                perms,
                path,
                ..Mapping::default()
            });
        } else if let Some(m) = out.last_mut() {
            let kib: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            match first {
                "Size:" => m.size = kib,
                "Rss:" => m.rss = kib,
                "Pss:" => m.pss = kib,
                "Anonymous:" => m.anonymous = kib,
                "Private_Clean:" | "Private_Dirty:" => m.private += kib,
                _ => {}
            }
        }
    }
    out
}

/// Each thread of `pid`: (tid, name, user stack pointer), the stack pointer from
/// `/proc/<pid>/task/<tid>/syscall` (readable by an ancestor of the process, as
/// the harness is). Threads whose pointer cannot be read are left out.
pub fn thread_stack_pointers(pid: u32) -> Vec<(u32, String, u64)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for task in dir.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else { continue };
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim().to_owned();
        let Ok(sys) = std::fs::read_to_string(task.path().join("syscall")) else { continue };
        // "nr a1 .. a6 sp pc" in a syscall, "-1 sp pc" blocked outside one, "running".
        let fields: Vec<&str> = sys.split_whitespace().collect();
        if fields.len() >= 3 {
            if let Some(sp) = fields.get(fields.len() - 2).and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()) {
                out.push((tid, name, sp));
            }
        }
    }
    out
}

/// glibc's non-main malloc arenas are heaps of `HEAP_MAX_SIZE` (64 MiB on 64-bit),
/// reserved aligned to their size: a read-write part followed by a `---p` rest.
const ARENA_HEAP: u64 = 64 << 20;

/// What an anonymous mapping is: the stack of a thread (named), a glibc malloc
/// arena, the main heap, a guard, or a mapping of its own (a large `malloc` or an
/// `mmap` by a library).
pub fn label_mapping(maps: &[Mapping], i: usize, stacks: &[(u32, String, u64)]) -> String {
    let m = &maps[i];
    if !m.path.is_empty() {
        return m.path.rsplit('/').next().unwrap_or(&m.path).to_owned();
    }
    let threads: Vec<&str> = stacks.iter().filter(|(_, _, sp)| *sp >= m.start && *sp < m.end).map(|(_, n, _)| n.as_str()).collect();
    if !threads.is_empty() {
        return format!("thread stack ({})", threads.join(", "));
    }
    if m.perms.starts_with("---") {
        return "[anon] guard / reserved".into();
    }
    let next_reserved = maps.get(i + 1).is_some_and(|n| n.path.is_empty() && n.perms.starts_with("---") && n.start == m.end);
    let arena_end = maps.get(i + 1).filter(|_| next_reserved).map(|n| n.end).unwrap_or(m.end);
    if m.start.is_multiple_of(ARENA_HEAP) && arena_end - m.start == ARENA_HEAP {
        return "malloc arena (glibc, non-main)".into();
    }
    let prev_guard = i > 0 && maps[i - 1].path.is_empty() && maps[i - 1].perms.starts_with("---") && maps[i - 1].end == m.start;
    if prev_guard {
        return "[anon] after a guard page (a thread stack of an exited or unread thread?)".into();
    }
    "[anon] mapping of its own (large malloc or mmap)".into()
}
