//! A web server that is not a broker: it answers every request with one fixed status,
//! content type and body, on a free loopback port, until dropped. For the tests of what a
//! user sees when `--broker` names the wrong thing.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

pub struct FixedWeb {
    pub url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FixedWeb {
    /// Serve `status` (e.g. `404 Not Found`) with `content_type` and `body` to every request.
    pub fn start(status: &str, content_type: &str, body: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            // Blocking accept; Drop wakes it with one last connection.
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { break };
                let mut reader = BufReader::new(&stream);
                // Read the request head; the body (if any) is not needed.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let _ = (&stream).write_all(answer.as_bytes());
            }
        });
        FixedWeb {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FixedWeb {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
