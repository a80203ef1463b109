//! CPU time a process has used, from Linux's `/proc/<pid>/stat`: steadier than
//! throughput on a shared machine, and what the performance work must shrink.

/// `/proc` reports CPU time in clock ticks of `USER_HZ`, which Linux fixes at 100 for
/// this interface on every architecture it runs Polis on.
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of all the process's threads; `None` off Linux.
pub fn process_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, so skip past its ')'):
    // state is field 3, utime field 14 and stime field 15 of proc(5).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}
