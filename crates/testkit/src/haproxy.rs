//! Debian's HAProxy in front of broker replicas, running the project's own configuration
//! (`dist/haproxy/zt-broker.cfg`) with its `bind` line replaced by a loopback port without TLS
//! and its `server` lines by the test's replicas. Foreground (`-db`), killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::{GroupChild, wait_until};

/// The configuration this project ships.
pub const CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../dist/haproxy/zt-broker.cfg"
);

/// The `haproxy` program, if installed.
pub fn program() -> Option<PathBuf> {
    super::find_in_path("haproxy").or_else(|| {
        let sbin = Path::new("/usr/sbin/haproxy");
        sbin.is_file().then(|| sbin.to_owned())
    })
}

/// Why HAProxy cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    program()
        .is_none()
        .then(|| "haproxy not found (Debian: apt-get install haproxy)".to_owned())
}

pub struct Haproxy {
    _child: GroupChild,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// [`CONFIG`] listening on 127.0.0.1:`port` in plain HTTP, balancing over `servers`
/// (`host:port` each).
pub fn config_for(port: u16, servers: &[String]) -> String {
    let shipped = std::fs::read_to_string(CONFIG).expect("read dist/haproxy/zt-broker.cfg");
    let mut out = String::new();
    let mut servers_written = false;
    for line in shipped.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("bind ") {
            out.push_str(&format!("    bind 127.0.0.1:{port}\n"));
        } else if trimmed.starts_with("server ") {
            if !servers_written {
                for (n, server) in servers.iter().enumerate() {
                    out.push_str(&format!("    server broker{} {server} check\n", n + 1));
                }
                servers_written = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(
        servers_written,
        "the shipped configuration has no server lines"
    );
    out
}

impl Haproxy {
    /// HAProxy on `port` (chosen by the caller, so that a broker's public URL can name it
    /// before it starts) in front of `servers`; returns once the port accepts connections.
    pub fn start(port: u16, servers: &[String]) -> Haproxy {
        let program = program().expect("haproxy is installed (check with `unavailable`)");
        let dir = super::tempdir();
        let config = dir.path().join("haproxy.cfg");
        std::fs::write(&config, config_for(port, servers)).unwrap();
        let check = Command::new(&program)
            .arg("-c")
            .arg("-f")
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "haproxy -c refused the configuration: {}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        let log_path = dir.path().join("haproxy.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(&program);
        command
            .arg("-db")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = GroupChild::spawn(command).expect("start haproxy");
        let up = wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(
            up,
            "haproxy did not listen on {port}: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        Haproxy {
            _child: child,
            port,
            log: log_path,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
