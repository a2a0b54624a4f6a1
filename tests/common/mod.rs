//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Copies a folder tree (a registry, to run one command on two identical registries).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A tmpfs of a given size mounted over a folder, unmounted on drop: a disk that fills up.
pub struct SmallDisk(PathBuf);

impl SmallDisk {
    /// `None` where this machine does not let the tests mount (not root, or a container
    /// without CAP_SYS_ADMIN); CI runs as root.
    pub fn mount(dir: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| SmallDisk(dir.to_owned()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
