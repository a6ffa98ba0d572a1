//! A throwaway `redis-server` on loopback for tests of Redis-backed session stores.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::DevError;

/// A `redis-server` process on a free loopback port, with no persistence; stopped on drop.
/// Needs Debian's `redis-server` (`cargo xtask ci` installs it).
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// Starts the server and waits (up to 10 s) until it answers `PING`.
    pub fn start() -> Result<Self, DevError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| DevError::TestServer(format!("no free port: {e}")))?;
        let mut server = Self { child: None, port };
        server.spawn()?;
        Ok(server)
    }

    /// Stops the server and starts a new, empty one on the same port (as after a crash of a
    /// server without persistence), waiting until it answers.
    pub fn restart(&mut self) -> Result<(), DevError> {
        self.stop();
        self.spawn()
    }

    fn spawn(&mut self) -> Result<(), DevError> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                DevError::TestServer(format!(
                    "redis-server does not run ({e}); install it: apt-get install redis-server"
                ))
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            if Instant::now() > deadline {
                return Err(DevError::TestServer(
                    "redis-server did not answer PING".into(),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// The URL to connect to, `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops the server now (to test what happens when the store goes away).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
