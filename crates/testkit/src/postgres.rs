//! A private PostgreSQL server for one test: Debian's `initdb` into a temporary directory, then
//! `postgres` on a free 127.0.0.1 port, password (SCRAM) authentication for the role `zt`.
//! Dropping it kills the server with its process group; [`Postgres::stop`] and
//! [`Postgres::start_again`] take it down and bring it back on the same data and port, for the
//! tests of a database that goes away under a running broker.
//!
//! PostgreSQL refuses to run as root: as root, the server runs as Debian's `postgres` user
//! (through `setpriv`), and its directory is handed to that user.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{GroupChild, wait_until};

/// The role the tests connect as.
pub const ROLE: &str = "zt";
/// [`ROLE`]'s password: public, like every test secret.
pub const PASSWORD: &str = "zt-postgres-password-for-tests-only";

/// Debian's PostgreSQL programs (`initdb`, `postgres`, `pg_isready`), newest version first.
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("postgres").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// Why PostgreSQL cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if bin_dir().is_none() {
        return Some(
            "PostgreSQL not found under /usr/lib/postgresql (Debian: apt-get install postgresql)"
                .into(),
        );
    }
    if is_root() && owner_ids("postgres").is_none() {
        return Some("running as root, but there is no `postgres` user to run the server".into());
    }
    None
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// The uid and gid of `user`, from `id`.
fn owner_ids(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, user]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// A running test server.
pub struct Postgres {
    server: Option<GroupChild>,
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    log: PathBuf,
    /// Server settings beyond the defaults (`-c NAME=VALUE`), e.g. TLS.
    settings: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// A new cluster with the role [`ROLE`], started and accepting connections. Panics with the
    /// server's log when it does not come up.
    pub fn start() -> Postgres {
        let bin = bin_dir().expect("PostgreSQL is installed (check with `unavailable`)");
        let dir = super::tempdir();
        let owner = is_root().then(|| owner_ids("postgres").expect("a postgres user"));
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        }
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, PASSWORD).expect("write the password file");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&password_file, Some(uid), Some(gid)).expect("chown");
        }
        let data = dir.path().join("data");
        let mut initdb = as_owner(owner, &bin.join("initdb"));
        initdb
            .arg("--pgdata")
            .arg(&data)
            .args([
                "--username",
                ROLE,
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
            ])
            .args(["--locale", "C", "--no-sync"])
            .arg(format!("--pwfile={}", password_file.display()));
        let out = initdb.output().expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut postgres = Postgres {
            server: None,
            log: dir.path().join("postgres.log"),
            settings: Vec::new(),
            bin,
            data,
            port: super::free_port(),
            _dir: dir,
        };
        postgres.start_again();
        postgres
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for the cluster's `postgres` database, without the password (give it separately,
    /// as a broker must).
    pub fn url(&self) -> String {
        format!("postgres://{ROLE}@127.0.0.1:{}/postgres", self.port)
    }

    /// Kill the server (SIGKILL to its process group: a crash, not a shutdown).
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill();
        }
    }

    /// (Re)start the server on the same data directory and port, and wait until it accepts
    /// connections.
    pub fn start_again(&mut self) {
        self.stop();
        let owner = is_root().then(|| owner_ids("postgres").expect("a postgres user"));
        let log = std::fs::File::create(&self.log).expect("create the server log");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&self.log, Some(uid), Some(gid)).expect("chown");
        }
        let socket_dir = self.data.parent().expect("a parent").to_owned();
        let mut command = as_owner(owner, &self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&socket_dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=on"])
            .args(["-c", "max_connections=60", "-c", "shared_buffers=16MB"])
            .args(self.settings.iter().flat_map(|s| ["-c", s.as_str()]))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup the log"))
            .stderr(log);
        self.server = Some(GroupChild::spawn(command).expect("start postgres"));
        let ready = wait_until(Duration::from_secs(30), || {
            Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
        });
        assert!(
            ready,
            "postgres did not come up on port {}: {}",
            self.port,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// Serve TLS from now on (restarting the server) with a certificate for 127.0.0.1 and
    /// localhost from a new CA; returns the CA's PEM file, for `sslrootcert`.
    pub fn use_tls(&mut self) -> PathBuf {
        let made = super::tls::localhost_certificates("zt test PostgreSQL CA");
        let dir = self.data.parent().expect("a parent").to_owned();
        let owner = is_root().then(|| owner_ids("postgres").expect("a postgres user"));
        let (cert, key, ca) = (
            dir.join("server.crt"),
            dir.join("server.key"),
            dir.join("ca.pem"),
        );
        std::fs::write(&cert, &made.cert_pem).unwrap();
        std::fs::write(&ca, &made.ca_pem).unwrap();
        // PostgreSQL refuses a key that others can read.
        {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key)
                .and_then(|mut f| f.write_all(made.key_pem.as_bytes()))
                .expect("write the server key");
        }
        if let Some((uid, gid)) = owner {
            for file in [&cert, &key] {
                std::os::unix::fs::chown(file, Some(uid), Some(gid)).expect("chown");
            }
        }
        self.settings.push("ssl=on".into());
        self.settings
            .push(format!("ssl_cert_file={}", cert.display()));
        self.settings
            .push(format!("ssl_key_file={}", key.display()));
        self.start_again();
        ca
    }

    /// What `psql` prints for `sql` run in `database` as [`ROLE`]: unaligned, without headers,
    /// columns separated by a space, one row per line. `Err` holds its error output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-F", " ", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", ROLE, "-d", database, "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "psql -c {sql:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The data directory (for the record; tests do not write to it).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server's processes while it runs: the postmaster first, then every process it
    /// started (one per connection, the WAL writer, the checkpointer, …). These are found by
    /// parent, not by process group: PostgreSQL makes each of its children a session leader.
    pub fn pids(&self) -> Vec<u32> {
        let Some(postmaster) = self.server.as_ref().map(GroupChild::id) else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return pids;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if proc_stat(pid).is_some_and(|stat| stat.ppid == postmaster) {
                pids.push(pid);
            }
        }
        pids
    }

    /// The CPU time the server has used so far, in clock ticks (`getconf CLK_TCK`): the user
    /// and system time of each of its [processes](Self::pids), plus what the postmaster
    /// collected from those that ended (their times move to its children's times when it
    /// reaps them), so that connections that come and go between two readings are counted
    /// too. `None` when the server is not running.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let pids = self.pids();
        let postmaster = proc_stat(*pids.first()?)?;
        let mut ticks = postmaster.children_ticks;
        // A process that ended between listing and reading is in `children_ticks` by now,
        // or will be at the next reading: a tick or two, not an error.
        ticks += pids
            .iter()
            .filter_map(|&pid| proc_stat(pid))
            .map(|s| s.ticks)
            .sum::<u64>();
        Some(ticks)
    }
}

/// What the server's accounting needs from `/proc/PID/stat`.
struct ProcStat {
    ppid: u32,
    /// `utime + stime`.
    ticks: u64,
    /// `cutime + cstime`: the times of the children it has reaped.
    children_ticks: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    // Field 4 (ppid) is the 2nd after it, fields 14 to 17 (utime, stime, cutime, cstime) the
    // 12th to the 15th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(ProcStat {
        ppid: u32::try_from(field(1)?).ok()?,
        ticks: field(11)? + field(12)?,
        children_ticks: field(13)? + field(14)?,
    })
}

/// `program` run as `owner` (uid, gid) when given, else as this process's user.
fn as_owner(owner: Option<(u32, u32)>, program: &Path) -> Command {
    match owner {
        Some((uid, gid)) => {
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg(program);
            command
        }
        None => Command::new(program),
    }
}
