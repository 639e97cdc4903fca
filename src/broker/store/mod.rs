//! Broker state: single-use ledgers (DPoP `jti`, exchanged ID tokens),
//! issued certificate serials and the audit chain.
//!
//! Every write that gates a response (a token or a certificate leaving the
//! broker) is durable before the write call returns; callers answer only
//! after that. SQLite is the embedded default; the trait is what a
//! PostgreSQL store will implement for several replicas.

pub mod audit_log;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use crate::audit::AuditRecord;

/// A stored audit record with its chain position.
pub type StoredRecord = crate::audit::Entry;

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A single-use value was seen before.
    #[error("{0} was already used")]
    Replayed(&'static str),
    /// The random serial collided; the caller picks another and retries.
    #[error("certificate serial already issued")]
    SerialTaken,
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
}

/// A value that may be used once until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceValue {
    pub kind: &'static str,
    pub value: String,
    pub expires_at: u64,
}

/// One atomic, durable write: the single-use values it consumes, the
/// certificate serial it claims (if any) and its audit record. Either all
/// of it is committed or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub once: Vec<OnceValue>,
    pub serial: Option<u64>,
    pub audit: AuditRecord,
}

pub trait Store: Send + Sync {
    /// Commit `write` durably, or fail without any of it taking effect.
    fn commit(&self, write: Write) -> StoreFuture<'_, ()>;
    /// Whether the store can take writes (for `/readyz`).
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// Audit records in chain order, from `after_seq` (exclusive).
    fn audit_records(&self, after_seq: u64, limit: u32) -> StoreFuture<'_, Vec<StoredRecord>>;
}
