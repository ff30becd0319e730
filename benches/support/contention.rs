//! How contended the machine was during a benchmark, and a thread's own CPU time.

use std::time::Duration;

use crate::support::wanted;

// ---------------------------------------------------------------------------------------
// How contended the machine was: the scheduler's own accounting (/proc/.../schedstat: time on
// a CPU and time runnable but waiting for one, in ns). Benchmarks on a shared 2-core machine
// are only comparable with this in view.

pub(crate) fn schedstat(path: &std::path::Path) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(path).ok()?;
    let mut f = s.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some((f.next()??, f.next()??))
}

/// This thread's time on a CPU (zero where /proc has no schedstat).
pub(crate) fn thread_cpu() -> Duration {
    let on_cpu = schedstat("/proc/thread-self/schedstat".as_ref()).map_or(0, |(cpu, _)| cpu);
    Duration::from_nanos(on_cpu)
}

/// The (on-CPU, waiting) nanoseconds of the tokio workers now alive, and of the main thread
/// if `main` (criterion's analysis runs on the main thread and on its own pool: not counted).
pub(crate) fn process_sched(main: bool) -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    let pid = std::process::id().to_string();
    tasks
        .flatten()
        .filter(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            comm.starts_with("tokio-r") || (main && t.file_name().to_str() == Some(pid.as_str()))
        })
        .filter_map(|t| schedstat(&t.path().join("schedstat")))
        .fold((0, 0), |(c, w), (c2, w2)| (c + c2, w + w2))
}

/// The scheduler times at the start of a group, to report how much its threads had to wait
/// for a CPU while it ran.
pub(crate) struct Contention {
    main: bool,
    start: (u64, u64),
}

impl Contention {
    /// Counts the tokio workers, and the main thread if `main` (where the work runs on it).
    pub(crate) fn start(main: bool) -> Contention {
        Contention {
            main,
            start: process_sched(main),
        }
    }

    pub(crate) fn report(&self, group: &str) {
        if !wanted(group) {
            return;
        }
        let (cpu, wait) = process_sched(self.main);
        let (cpu, wait) = (
            cpu.saturating_sub(self.start.0),
            wait.saturating_sub(self.start.1),
        );
        if cpu > 0 {
            println!(
                "{group}: its threads ran {:.2} s on a CPU and waited {:.2} s for one (wait/run \
                 {:.2}; 0 on an idle machine)",
                cpu as f64 / 1e9,
                wait as f64 / 1e9,
                wait as f64 / cpu as f64,
            );
        }
    }
}
