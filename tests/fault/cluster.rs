//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory,
//! served on a free 127.0.0.1 port, so the test can stop and start it
//! without disturbing the shared server the other tests use.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running (or stopped) private cluster. Dropping it stops the server.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    dir: PathBuf,
    pub port: u16,
    /// Run the server's tools as `postgres`: `initdb` refuses to run as root.
    as_postgres: bool,
}

impl Cluster {
    /// `initdb`s a cluster under `dir` (which must be empty) and starts it.
    pub fn create(dir: &Path) -> Cluster {
        let bin = server_bin_dir();
        let as_postgres = is_root();
        if as_postgres {
            let uid = id_of("-u");
            let gid = id_of("-g");
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .expect("chown the cluster's directory to postgres");
        }
        let cluster = Cluster {
            data: dir.join("data"),
            dir: dir.to_path_buf(),
            port: crate::free_port(),
            bin,
            as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&cluster.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.start();
        cluster
    }

    /// `postgres://postgres@127.0.0.1:PORT/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off -c max_connections=100",
            self.port,
            path_str(&self.dir)
        );
        let log = self.dir.join("postgres.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.data),
                "-l",
                path_str(&log),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server the way a restart does (`-m fast`: sessions are
    /// cut, in-flight transactions roll back) and waits until it is down.
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", path_str(&self.data), "-m", "fast", "-w", "stop"],
        );
    }

    /// Writes `name` into the data directory, owned by the server's user
    /// and with `mode` (a TLS key must be 0600): the TLS test configures
    /// the cluster this way, then restarts it.
    #[allow(dead_code)] // used by tests/pg_tls, not by the fault test
    pub fn write_data_file(&self, name: &str, contents: &[u8], mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.data.join(name);
        std::fs::write(&path, contents).expect("write a file into the data directory");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .expect("set the file's mode");
        if self.as_postgres {
            std::os::unix::fs::chown(&path, Some(id_of("-u")), Some(id_of("-g")))
                .expect("chown the file to postgres");
        }
    }

    /// The contents of `name` in the data directory.
    #[allow(dead_code)] // used by tests/pg_tls, not by the fault test
    pub fn read_data_file(&self, name: &str) -> String {
        std::fs::read_to_string(self.data.join(name)).expect("read a file of the data directory")
    }

    /// The server tool `tool`, run as `postgres` when the test runs as root.
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(program);
            runuser
        } else {
            Command::new(program)
        };
        command.current_dir(&self.dir);
        command
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let output = self
            .command(tool)
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("cannot run {tool}: {err}"));
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Nothing to do when it is already down.
        let _ = self
            .command("pg_ctl")
            .args(["-D", path_str(&self.data), "-m", "immediate", "stop"])
            .output();
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`, or the
/// directory of an `initdb` on `PATH`.
fn server_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let found = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default();
    let initdb = PathBuf::from(found);
    match initdb.parent() {
        Some(dir) if initdb.exists() => dir.to_path_buf(),
        _ => panic!(
            "the fault test needs the PostgreSQL server binaries (initdb, pg_ctl): \
             none under /usr/lib/postgresql/*/bin or on PATH"
        ),
    }
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run `id -u`");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `id -u postgres` / `id -g postgres`.
fn id_of(flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .expect("run `id` for the postgres user");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("running as root needs a `postgres` system user to run initdb")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}
