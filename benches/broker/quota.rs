//! A CPU quota for the broker under test, for loads that the one core of
//! load cannot otherwise outrun. New connections are such a load: on
//! loopback, the kernel's TCP work for both ends of each handshake runs on the
//! load's core, so it saturates first and the broker's rate says little about
//! the broker. Held to a share of its core (through the cgroup `cpu`
//! controller, v2 or v1, where the bench may create a group), the broker
//! saturates first again. Where no group can be made, the rows are left out.

use std::fs;
use std::path::{Path, PathBuf};

/// The quota's period: short, so that the broker runs in small slices rather
/// than a long run and a long pause.
const PERIOD_US: u64 = 10_000;

pub struct Quota {
    group: PathBuf,
    /// Where a process goes back to.
    root: PathBuf,
    pub share: f64,
}

impl Quota {
    /// A group whose processes get `share` of one core, if one can be made.
    pub fn new(share: f64) -> Option<Self> {
        let quota = (PERIOD_US as f64 * share) as u64;
        let v2 = Path::new("/sys/fs/cgroup");
        let v2_has_cpu = fs::read_to_string(v2.join("cgroup.subtree_control"))
            .is_ok_and(|controllers| controllers.split_whitespace().any(|c| c == "cpu"));
        if v2_has_cpu {
            let group = v2.join("mqreg-bench");
            let _ = fs::create_dir(&group);
            if fs::write(group.join("cpu.max"), format!("{quota} {PERIOD_US}")).is_ok() {
                return Some(Quota {
                    group,
                    root: v2.to_path_buf(),
                    share,
                });
            }
        }
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        let group = v1.join("mqreg-bench");
        let _ = fs::create_dir(&group);
        fs::write(group.join("cpu.cfs_period_us"), PERIOD_US.to_string()).ok()?;
        fs::write(group.join("cpu.cfs_quota_us"), quota.to_string()).ok()?;
        Some(Quota {
            group,
            root: v1.to_path_buf(),
            share,
        })
    }

    /// Puts the process `pid` (all its threads) under the quota.
    pub fn hold(&self, pid: u32) -> bool {
        fs::write(self.group.join("cgroup.procs"), pid.to_string()).is_ok()
    }

    /// Lets the process `pid` go.
    pub fn release(&self, pid: u32) {
        let _ = fs::write(self.root.join("cgroup.procs"), pid.to_string());
    }
}

impl Drop for Quota {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.group);
    }
}
