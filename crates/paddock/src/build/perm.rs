//! The /perm file system: ext4 made by `mkfs.ext4` (Debian `e2fsprogs`)
//! with a fixed UUID, directory hash seed and time
//! (`E2FSPROGS_FAKE_TIME`), so it is reproducible. Used by `build` (in a
//! file) and by `write` (at an offset of the target, to fill a bigger disk).
//!
//! A few instance files start out in /perm (`mkfs.ext4 -d`): today
//! `breakglass.authorized_keys`, the keys paddock-breakglass accepts.
//! `write` keeps whatever the image's /perm holds ([`extract`]).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use uuid::Uuid;

use super::error::{io_err, BuildError, Result};
use super::tool;

/// Instance files copied to the top of /perm, with their mode there.
pub const INSTANCE_FILES: &[(&str, u32)] = &[("breakglass.authorized_keys", 0o600)];

/// The instance's files for /perm (those of [`INSTANCE_FILES`] that
/// exist), staged in `stage` (a new, empty directory; [`make_from`] sets
/// their times). Returns whether there were any.
pub fn stage_instance_files(instance_dir: &Path, stage: &Path) -> Result<bool> {
    let mut any = false;
    for (name, mode) in INSTANCE_FILES {
        let src = instance_dir.join(name);
        if !src.is_file() {
            continue;
        }
        let data = std::fs::read(&src).map_err(io_err("reading", &src))?;
        let dst = stage.join(name);
        std::fs::write(&dst, data).map_err(io_err("writing", &dst))?;
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(*mode))
            .map_err(io_err("chmod", &dst))?;
        any = true;
    }
    Ok(any)
}

/// Makes an ext4 file system of `size` bytes at byte `offset` of
/// `target`, filled with the top-level files of `from` when given (owned by root; times set to `epoch` so the result only depends
/// on the contents).
pub fn make_from(
    target: &Path,
    offset: u64,
    size: u64,
    uuid: Uuid,
    epoch: u64,
    from: Option<&Path>,
) -> Result<()> {
    let mut names = Vec::new();
    if let Some(dir) = from {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch);
        for entry in std::fs::read_dir(dir).map_err(io_err("reading", dir))? {
            let entry = entry.map_err(io_err("reading", dir))?;
            let path = entry.path();
            if entry
                .file_type()
                .map_err(io_err("reading", &path))?
                .is_file()
            {
                let f = std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .map_err(io_err("opening", &path))?;
                f.set_times(
                    std::fs::FileTimes::new()
                        .set_accessed(time)
                        .set_modified(time),
                )
                .map_err(io_err("setting the times of", &path))?;
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
    }
    let mut cmd = Command::new(tool::find("mkfs.ext4", "e2fsprogs")?);
    cmd.env("E2FSPROGS_FAKE_TIME", epoch.to_string())
        .env("MKE2FS_DEVICE_SECTSIZE", "512")
        .args(["-q", "-F", "-L", "perm", "-b", "4096", "-m", "0"])
        .arg("-U")
        .arg(uuid.to_string())
        .arg("-E")
        .arg(format!(
            "hash_seed={uuid},root_owner=0:0,offset={offset},lazy_itable_init=0,lazy_journal_init=0,nodiscard"
        ));
    if let (Some(dir), false) = (from, names.is_empty()) {
        cmd.arg("-d").arg(dir);
    }
    cmd.arg(target).arg(format!("{}k", size / 1024));
    tool::run(cmd, "mkfs.ext4 (perm)")?;
    if names.is_empty() {
        return Ok(());
    }
    // mkfs.ext4 -d copies the files' ctime, which cannot be set on the
    // build host: set it in the file system.
    let script: String = names
        .iter()
        .flat_map(|n| {
            [
                format!("sif \"/{n}\" ctime @{epoch}\n"),
                format!("sif \"/{n}\" uid 0\n"),
                format!("sif \"/{n}\" gid 0\n"),
            ]
        })
        .collect();
    let mut cmd = debugfs(target, offset, epoch)?;
    cmd.arg("-w").arg("-f").arg("-");
    run_with_input(cmd, script.as_bytes(), "debugfs (perm file times)")?;
    Ok(())
}

fn debugfs(target: &Path, offset: u64, epoch: u64) -> Result<Command> {
    let mut cmd = Command::new(tool::find("debugfs", "e2fsprogs")?);
    cmd.env("E2FSPROGS_FAKE_TIME", epoch.to_string());
    // unix_io's `?offset=` option: the file system inside a disk image.
    let mut spec = target.as_os_str().to_owned();
    spec.push(format!("?offset={offset}"));
    cmd.arg(spec);
    Ok(cmd)
}

fn run_with_input(mut cmd: Command, input: &[u8], what: &str) -> Result<()> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BuildError::Command {
            what: what.to_string(),
            status: "not started".into(),
            detail: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().map_err(|e| BuildError::Command {
        what: what.to_string(),
        status: "wait failed".into(),
        detail: e.to_string(),
    })?;
    // debugfs reports command errors on stderr but exits 0.
    let err = String::from_utf8_lossy(&out.stderr);
    let bad = err
        .lines()
        .find(|l| !l.starts_with("debugfs ") && !l.trim().is_empty());
    if !out.status.success() || bad.is_some() {
        return Err(BuildError::Command {
            what: what.to_string(),
            status: out.status.to_string(),
            detail: tool::tail(&out.stderr, &out.stdout),
        });
    }
    Ok(())
}

/// Copies the top-level regular files of the ext4 file system at byte
/// `offset` of `image` into `dir` (for `write`, which makes /perm anew).
pub fn extract(image: &Path, offset: u64, dir: &Path) -> Result<()> {
    let mut cmd = debugfs(image, offset, 0)?;
    cmd.arg("-R").arg("ls -p /");
    let out = tool::run(cmd, "debugfs (listing perm)")?;
    // `ls -p`: /inode/mode/uid/gid/name/size/ per line.
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split('/').collect();
        let (Some(mode), Some(name)) = (fields.get(2), fields.get(5)) else {
            continue;
        };
        let Ok(mode) = u32::from_str_radix(mode, 8) else {
            continue;
        };
        if mode & 0o170000 != 0o100000 || name.is_empty() || name.contains('"') {
            continue;
        }
        let dst = dir.join(name);
        let mut cmd = debugfs(image, offset, 0)?;
        cmd.arg("-R")
            .arg(format!("dump -p \"/{name}\" \"{}\"", dst.display()));
        tool::run(cmd, "debugfs (copying perm)")?;
        if !dst.is_file() {
            return Err(BuildError::Layout(format!(
                "copying /{name} out of the image's /perm failed"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs_image(dir: &Path, name: &str, from: Option<&Path>) -> std::path::PathBuf {
        let img = dir.join(name);
        std::fs::File::create(&img)
            .unwrap()
            .set_len(9 << 20)
            .unwrap();
        let uuid = Uuid::from_u128(7);
        make_from(&img, 1 << 20, 8 << 20, uuid, 1_700_000_000, from).unwrap();
        img
    }

    #[test]
    fn instance_files_go_in_reproducibly_and_come_back_out() {
        let tmp = tempfile::tempdir().unwrap();
        let instance = tmp.path().join("instance");
        std::fs::create_dir(&instance).unwrap();
        std::fs::write(
            instance.join("breakglass.authorized_keys"),
            "ssh-ed25519 AAAA test\n",
        )
        .unwrap();
        let mut images = Vec::new();
        for i in 0..2 {
            let stage = tmp.path().join(format!("stage{i}"));
            std::fs::create_dir(&stage).unwrap();
            assert!(stage_instance_files(&instance, &stage).unwrap());
            images.push(fs_image(tmp.path(), &format!("{i}.img"), Some(&stage)));
            // A later ctime on the second run must not change the result.
            std::thread::sleep(Duration::from_millis(1100));
        }
        let a = std::fs::read(&images[0]).unwrap();
        let b = std::fs::read(&images[1]).unwrap();
        assert!(a == b, "two builds differ");
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        extract(&images[0], 1 << 20, &out).unwrap();
        let path = out.join("breakglass.authorized_keys");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "ssh-ed25519 AAAA test\n"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No instance files: nothing staged, an empty file system.
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(!stage_instance_files(&empty, &empty).unwrap());
    }
}
