//! A real `nats-server` on 127.0.0.1 for tests of the direct NATS source: started
//! as a child process, restarted on the same ports, its `/varz` read, killed on
//! drop.
//!
//! Needs the `nats-server` binary (Debian package `nats-server`; `scripts/setup.sh
//! --test` installs it, or set `NATS_SERVER` to its path); without it, starting
//! one panics with how to install it, so no test passes silently.
//!
//! Must not: be used by the app (it is test equipment), or hide a server that did
//! not start.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn nats_server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NATS_SERVER") {
        return PathBuf::from(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin"].map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join("nats-server");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("nats-server not found: install nats-server (scripts/setup.sh --test)");
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether a NATS server on `port` sends its INFO line (by then it has counted the
/// connection, so `/varz` figures read afterwards include it).
fn greets(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut first = [0u8; 4];
    stream.read_exact(&mut first).is_ok() && &first == b"INFO"
}

/// A `nats-server` on 127.0.0.1, killed on drop.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    monitor: u16,
    /// The token the server requires (`--auth`), applied at the next (re)start.
    pub token: Option<String>,
}

impl NatsServer {
    pub fn start(token: Option<&str>) -> Self {
        Self::start_on(free_port(), token)
    }

    pub fn start_on(port: u16, token: Option<&str>) -> Self {
        let mut s = NatsServer { child: None, port, monitor: free_port(), token: token.map(str::to_owned) };
        s.restart();
        s
    }

    /// Starts the server (again) on the same ports.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut cmd = Command::new(nats_server_binary());
        cmd.args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-m", &self.monitor.to_string()]);
        if let Some(t) = &self.token {
            cmd.args(["--auth", t]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nats-server ({e}): install nats-server (scripts/setup.sh --test)"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(code) = child.try_wait().unwrap() {
                panic!("nats-server exited at start ({code}); is port {} taken?", self.port);
            }
            if greets(self.port) && TcpStream::connect(("127.0.0.1", self.monitor)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "nats-server did not listen on {} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A field of the monitoring endpoint's `/varz`.
    pub fn varz(&self, field: &str) -> u64 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.monitor)).unwrap();
        write!(stream, "GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        let v: Value = serde_json::from_str(body).unwrap();
        v[field].as_u64().unwrap_or_else(|| panic!("no {field} in /varz"))
    }

    pub async fn publisher(&self) -> async_nats::Client {
        let options = match &self.token {
            Some(t) => async_nats::ConnectOptions::with_token(t.clone()),
            None => async_nats::ConnectOptions::new(),
        };
        options.connect(self.url()).await.unwrap()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

