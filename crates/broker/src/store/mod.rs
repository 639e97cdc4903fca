//! Broker state: single-use ledgers (DPoP `jti`, exchanged ID tokens),
//! issued certificate serials, revocations, host enrolment tokens and the
//! audit chain.
//!
//! Every write that gates a response (a token or a certificate leaving the
//! broker) is durable before the write call returns; callers answer only
//! after that. SQLite is the embedded default; PostgreSQL ([`postgres`]) lets
//! several broker replicas share one state.

pub mod audit_log;
#[cfg(test)]
mod contract;
#[cfg(test)]
pub mod memory;
pub mod postgres;
mod postgres_apply;
pub mod postgres_schema;
pub mod sqlite;
mod sqlite_devices;
mod sqlite_hosts;

use std::future::Future;
use std::pin::Pin;

use zt_core::audit::AuditRecord;
use zt_core::device::{Device, DeviceRequirement, DeviceStatus};
use zt_core::posture::Check;
use zt_core::revocation::{Revocation, RevocationList};

/// A stored audit record with its chain position.
pub type StoredRecord = zt_core::audit::Entry;

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A single-use value was seen before.
    #[error("{} was already used", .0.as_str())]
    Replayed(OnceKind),
    /// The random serial collided; the caller picks another and retries.
    #[error("certificate serial already issued")]
    SerialTaken,
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The write's identity was revoked by an admin.
    #[error("this identity has been revoked")]
    IdentityRevoked,
    /// The enrolment token is unknown, already used or expired.
    #[error("the enrolment token is unknown, used or expired")]
    TokenUnusable,
    /// An admin revoked the write's device.
    #[error("this device has been revoked")]
    DeviceRevoked,
    /// The rule requires an approved device and this one is not.
    #[error("this device is not approved")]
    DeviceNotApproved,
    /// The device is registered to another identity.
    #[error("this device belongs to another user")]
    DeviceOfAnotherUser,
    /// An admin change names a device the broker has never seen.
    #[error("no such device")]
    UnknownDevice,
}

/// What a single-use value is; each kind has its own ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnceKind {
    /// The `jti` of a DPoP proof.
    DpopJti,
    /// An IdP ID token that was exchanged (its hash or `jti`).
    IdToken,
    /// The nonce of a host's possession proof.
    HostNonce,
    /// A broker nonce (`DPoP-Nonce`) a posture-bound proof carried.
    DpopNonce,
}

impl OnceKind {
    /// The name stored in the ledger's `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            OnceKind::DpopJti => "dpop_jti",
            OnceKind::IdToken => "id_token",
            OnceKind::HostNonce => "host_nonce",
            OnceKind::DpopNonce => "dpop_nonce",
        }
    }
}

/// A value that may be used once until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnceValue {
    pub kind: OnceKind,
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
    /// Refuse the whole write ([`StoreError::IdentityRevoked`]) when this
    /// identity (IdP issuer, subject) is revoked. Checked inside the write's
    /// transaction, so a revocation committed first always wins.
    pub unless_revoked: Option<(String, String)>,
    pub changes: Vec<Change>,
    /// The device the request was made with, registered or checked in the same transaction.
    pub device: Option<DeviceUse>,
}

/// A request's device: registered on first use as the write's identity's own; refused when
/// revoked, registered to someone else, or not approved where the rule requires that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceUse {
    /// The device key's thumbprint.
    pub id: String,
    pub issuer: String,
    pub subject: String,
    /// From a posture report, when the request carried one.
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub require: DeviceRequirement,
    pub now: u64,
    /// When the request's posture was evaluated: the checks it fails (grace bookkeeping, see
    /// [`zt_core::device::update_failing_since`]).
    pub posture_failing: Option<Vec<Check>>,
}

impl Write {
    /// For a user certificate's serial: whose certificate it is (IdP issuer, subject) and
    /// until when, from its audit record, for the stores' index of serials by user.
    pub(crate) fn serial_owner(&self) -> (Option<&str>, Option<&str>, Option<i64>) {
        let user = (self.audit.kind == zt_core::audit::EventKind::CertificateIssued)
            .then_some(())
            .and(self.audit.identity.as_ref());
        let valid_before = self
            .audit
            .certificate
            .as_ref()
            .map(|c| c.valid_before.min(i64::MAX as u64) as i64);
        (
            user.map(|u| u.issuer.as_str()),
            user.map(|u| u.subject.as_str()),
            valid_before,
        )
    }

    /// A write of just an audit record.
    pub fn record(audit: AuditRecord) -> Self {
        Write {
            once: vec![],
            serial: None,
            audit,
            unless_revoked: None,
            changes: vec![],
            device: None,
        }
    }
}

/// State changes beyond the ledgers, applied in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Record a revocation (recording one twice changes nothing).
    Revoke(Revocation),
    AddEnrolmentToken(EnrolmentToken),
    /// Use up an enrolment token; refused with [`StoreError::TokenUnusable`]
    /// unless it exists, is unused and has not expired at `now`.
    UseEnrolmentToken {
        hash: String,
        now: u64,
    },
    /// An admin approves or revokes a device; refused with [`StoreError::UnknownDevice`] unless
    /// it was registered.
    SetDeviceStatus {
        id: String,
        status: DeviceStatus,
    },
}

/// A host enrolment token as stored: only its SHA-256, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentToken {
    /// Hex SHA-256 of the token text.
    pub hash: String,
    pub principals: Vec<String>,
    pub expires_at: u64,
    pub used: bool,
}

/// A request on its way to [`Store::commit`]: while it lives, a store that commits in groups
/// may hold a group open a little for it (see [`sqlite`]). Drop it just before calling
/// `commit` (or when the request is refused), never after: the store must not wait for a
/// write that is already queued.
#[derive(Debug)]
pub struct Coming(Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>);

impl Coming {
    /// For a store that does not group commits.
    pub fn none() -> Coming {
        Coming(None)
    }

    /// Counted in `counter` until dropped.
    pub fn counted(counter: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Coming {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Coming(Some(std::sync::Arc::clone(counter)))
    }
}

impl Drop for Coming {
    fn drop(&mut self) {
        if let Some(counter) = &self.0 {
            counter.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

pub trait Store: Send + Sync {
    /// Commit `write` durably, or fail without any of it taking effect.
    fn commit(&self, write: Write) -> StoreFuture<'_, ()>;
    /// Announces a write that this request will commit unless it is refused first.
    fn coming(&self) -> Coming {
        Coming::none()
    }
    /// Whether the store can take writes (for `/readyz`).
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// Audit records in chain order, from `after_seq` (exclusive).
    fn audit_records(&self, after_seq: u64, limit: u32) -> StoreFuture<'_, Vec<StoredRecord>>;
    /// Everything revoked, with the serials of unexpired certificates
    /// (at `now`) issued to revoked users.
    fn revocations(&self, now: u64) -> StoreFuture<'_, RevocationList>;
    /// The highest revocation number: cheap, and it changes whenever
    /// [`revocations`](Self::revocations) would list something new.
    fn revocation_version(&self) -> StoreFuture<'_, u64>;
    /// The enrolment token with this hash, if one was ever created.
    fn enrolment_token(&self, hash: String) -> StoreFuture<'_, Option<EnrolmentToken>>;
    /// Every device, most recently seen first.
    fn devices(&self) -> StoreFuture<'_, Vec<Device>>;
    /// One device, if it was ever registered.
    fn device(&self, id: String) -> StoreFuture<'_, Option<Device>>;
    /// Whether this broker ever issued a certificate that `what` names (a serial, a key ID, a
    /// user, or a certified key), so that a typo is not taken for a revocation.
    fn issued(&self, what: Revocation) -> StoreFuture<'_, bool>;
}
