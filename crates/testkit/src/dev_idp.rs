//! zt's built-in development issuer, served in the test process on a
//! loopback port and approving every device code as one user. For tests
//! whose subject is the broker, not the login, and which need many ID
//! tokens quickly (the broker accepts each one once).

use std::sync::Arc;

use zt_dev_idp::{DevIssuer, DevIssuerConfig};

use super::api::CLIENT_ID;

/// A running development issuer; stops when dropped.
pub struct DevIdp {
    /// `http://127.0.0.1:PORT/idp`
    pub issuer: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl DevIdp {
    pub fn start(auto_approve: &str) -> DevIdp {
        Self::start_with(Some(auto_approve))
    }

    /// An issuer that waits for a person on its `/device` page, as `zt-broker dev` without
    /// `--auto-approve`.
    pub fn start_manual() -> DevIdp {
        Self::start_with(None)
    }

    fn start_with(auto_approve: Option<&str>) -> DevIdp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the dev issuer");
        listener.set_nonblocking(true).unwrap();
        let issuer = format!("http://{}/idp", listener.local_addr().unwrap());
        let mut config = DevIssuerConfig::new(issuer.parse().unwrap(), CLIENT_ID);
        config.auto_approve = auto_approve.map(str::to_owned);
        config.interval_secs = 1;
        let dev: Arc<DevIssuer> = DevIssuer::new(config).expect("dev issuer config");
        let app = axum::Router::new().nest("/idp", dev.router());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
        DevIdp {
            issuer,
            runtime: Some(runtime),
        }
    }
}

impl Drop for DevIdp {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
