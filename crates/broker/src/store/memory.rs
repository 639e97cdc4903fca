//! A [`Store`] in memory, for the service's unit tests: the same all-or-nothing semantics as
//! the SQLite store (revoked identities refused inside the write, single-use ledgers, unique
//! serials, enrolment tokens, a hash-chained audit log), nothing durable, and two knobs to
//! make it misbehave on purpose (serial collisions, an unwritable log).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::{
    Change, DeviceUse, EnrolmentToken, OnceKind, Store, StoreError, StoreFuture, StoredRecord,
    Write,
};
use zt_core::audit::{self, AuditRecord};
use zt_core::device::{Attestation, Device, DeviceRequirement, DeviceStatus};
use zt_core::revocation::{Revocation, RevocationList};

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    used: HashSet<(OnceKind, String)>,
    serials: HashMap<u64, AuditRecord>,
    revocations: Vec<(Revocation, u64)>,
    tokens: HashMap<String, EnrolmentToken>,
    devices: HashMap<String, Device>,
    audit: Vec<StoredRecord>,
    /// Refuse this many serial claims with `SerialTaken`, whatever the serial.
    collide_serials: usize,
    /// Refuse every write as `Unavailable` (a full or read-only disk).
    unwritable: bool,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` writes that claim a serial collide.
    pub fn collide_serials(&self, n: usize) {
        self.lock().collide_serials = n;
    }

    /// Make every write fail, or work again.
    pub fn set_unwritable(&self, unwritable: bool) {
        self.lock().unwritable = unwritable;
    }

    /// The audit records so far, in chain order.
    /// Whether any certificate serial was ever claimed.
    pub fn issued_any(&self) -> bool {
        !self.lock().serials.is_empty()
    }

    pub fn records(&self) -> Vec<AuditRecord> {
        self.lock()
            .audit
            .iter()
            .map(|e| serde_json::from_str(&e.record).expect("records are canonical JSON"))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("memory store lock")
    }
}

impl State {
    fn user_revoked(&self, issuer: &str, subject: &str) -> bool {
        self.revocations.iter().any(|(r, _)| {
            matches!(r, Revocation::User { issuer: i, subject: s } if i == issuer && s == subject)
        })
    }

    /// Everything `write` would do, checked before anything is changed.
    fn check(&mut self, write: &Write) -> Result<(), StoreError> {
        if self.unwritable {
            return Err(StoreError::Unavailable(
                "the memory store is unwritable".into(),
            ));
        }
        if let Some((issuer, subject)) = &write.unless_revoked {
            if self.user_revoked(issuer, subject) {
                return Err(StoreError::IdentityRevoked);
            }
        }
        for change in &write.changes {
            if let Change::SetDeviceStatus { id, .. } = change {
                if !self.devices.contains_key(id) {
                    return Err(StoreError::UnknownDevice);
                }
            }
            if let Change::UseEnrolmentToken { hash, now } = change {
                let usable = self
                    .tokens
                    .get(hash)
                    .is_some_and(|t| !t.used && t.expires_at > *now);
                if !usable {
                    return Err(StoreError::TokenUnusable);
                }
            }
        }
        for once in &write.once {
            if self.used.contains(&(once.kind, once.value.clone())) {
                return Err(StoreError::Replayed(once.kind));
            }
        }
        if let Some(device) = &write.device {
            self.check_device(device)?;
        }
        if let Some(serial) = write.serial {
            if self.collide_serials > 0 {
                self.collide_serials -= 1;
                return Err(StoreError::SerialTaken);
            }
            if self.serials.contains_key(&serial) {
                return Err(StoreError::SerialTaken);
            }
        }
        Ok(())
    }

    fn check_device(&self, device: &DeviceUse) -> Result<(), StoreError> {
        let Some(known) = self.devices.get(&device.id) else {
            return match device.require {
                DeviceRequirement::Approved => Err(StoreError::DeviceNotApproved),
                DeviceRequirement::Registered => Ok(()),
            };
        };
        if known.issuer != device.issuer || known.subject != device.subject {
            return Err(StoreError::DeviceOfAnotherUser);
        }
        match (known.status, device.require) {
            (DeviceStatus::Revoked, _) => Err(StoreError::DeviceRevoked),
            (DeviceStatus::Registered, DeviceRequirement::Approved) => {
                Err(StoreError::DeviceNotApproved)
            }
            _ => Ok(()),
        }
    }

    fn apply(&mut self, write: Write) {
        if let Some(device) = write.device {
            let entry = self.devices.entry(device.id.clone()).or_insert(Device {
                id: device.id.clone(),
                issuer: device.issuer.clone(),
                subject: device.subject.clone(),
                hostname: String::new(),
                os: String::new(),
                first_seen: device.now,
                last_seen: device.now,
                status: DeviceStatus::Registered,
                attestation: Attestation::None,
                posture_failing_since: Default::default(),
            });
            entry.last_seen = device.now;
            if let Some(failing) = &device.posture_failing {
                entry.posture_failing_since = zt_core::device::update_failing_since(
                    &entry.posture_failing_since,
                    failing,
                    device.now,
                );
            }
            if let Some(hostname) = device.hostname {
                entry.hostname = hostname;
            }
            if let Some(os) = device.os {
                entry.os = os;
            }
        }
        for change in write.changes {
            match change {
                Change::SetDeviceStatus { id, status } => {
                    if let Some(d) = self.devices.get_mut(&id) {
                        d.status = status;
                    }
                }
                Change::Revoke(r) => {
                    if !self.revocations.iter().any(|(known, _)| *known == r) {
                        self.revocations.push((r, write.audit.time));
                    }
                }
                Change::AddEnrolmentToken(t) => {
                    self.tokens.insert(t.hash.clone(), t);
                }
                Change::UseEnrolmentToken { hash, .. } => {
                    if let Some(t) = self.tokens.get_mut(&hash) {
                        t.used = true;
                    }
                }
            }
        }
        for once in write.once {
            self.used.insert((once.kind, once.value));
        }
        if let Some(serial) = write.serial {
            self.serials.insert(serial, write.audit.clone());
        }
        let prev_hash = self
            .audit
            .last()
            .map_or_else(|| audit::GENESIS.to_owned(), |e| e.hash.clone());
        let record = write.audit.canonical();
        self.audit.push(StoredRecord {
            seq: self.audit.len() as u64 + 1,
            hash: audit::chain_hash(&prev_hash, &record),
            prev_hash,
            record,
        });
    }
}

impl Store for MemoryStore {
    fn commit(&self, write: Write) -> StoreFuture<'_, ()> {
        let mut state = self.lock();
        let result = state.check(&write).map(|()| state.apply(write));
        Box::pin(async move { result })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        let unwritable = self.lock().unwritable;
        Box::pin(async move {
            match unwritable {
                true => Err(StoreError::Unavailable("unwritable".into())),
                false => Ok(()),
            }
        })
    }

    fn audit_records(&self, after_seq: u64, limit: u32) -> StoreFuture<'_, Vec<StoredRecord>> {
        let records = self
            .lock()
            .audit
            .iter()
            .filter(|e| e.seq > after_seq)
            .take(limit as usize)
            .cloned()
            .collect();
        Box::pin(async move { Ok(records) })
    }

    fn revocations(&self, now: u64) -> StoreFuture<'_, RevocationList> {
        let state = self.lock();
        let mut list = RevocationList::default();
        for (i, (r, time)) in state.revocations.iter().enumerate() {
            list.version = i as u64 + 1;
            list.updated_at = list.updated_at.max(*time);
            list.entries.push(r.clone());
        }
        for (serial, record) in &state.serials {
            let live = record
                .certificate
                .as_ref()
                .is_some_and(|c| c.valid_before > now);
            let revoked = record
                .identity
                .as_ref()
                .is_some_and(|i| state.user_revoked(&i.issuer, &i.subject));
            if live && revoked {
                list.user_serials.push(*serial);
            }
        }
        list.user_serials.sort_unstable();
        Box::pin(async move { Ok(list) })
    }

    fn revocation_version(&self) -> StoreFuture<'_, u64> {
        let version = self.lock().revocations.len() as u64;
        Box::pin(async move { Ok(version) })
    }

    fn enrolment_token(&self, hash: String) -> StoreFuture<'_, Option<EnrolmentToken>> {
        let token = self.lock().tokens.get(&hash).cloned();
        Box::pin(async move { Ok(token) })
    }

    fn device(&self, id: String) -> StoreFuture<'_, Option<Device>> {
        let device = self.lock().devices.get(&id).cloned();
        Box::pin(async move { Ok(device) })
    }

    fn devices(&self) -> StoreFuture<'_, Vec<Device>> {
        let mut devices: Vec<Device> = self.lock().devices.values().cloned().collect();
        devices.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
        Box::pin(async move { Ok(devices) })
    }

    fn issued(&self, what: Revocation) -> StoreFuture<'_, bool> {
        let state = self.lock();
        let names = |record: &AuditRecord| {
            let Some(cert) = &record.certificate else {
                return false;
            };
            match &what {
                Revocation::Serial(serial) => cert.serial == *serial,
                Revocation::KeyId(key_id) => cert.key_id == *key_id,
                Revocation::Key(fingerprint) => cert.key_fingerprint == *fingerprint,
                Revocation::User { issuer, subject } => record
                    .identity
                    .as_ref()
                    .is_some_and(|i| i.issuer == *issuer && i.subject == *subject),
            }
        };
        let issued = state.serials.values().any(names);
        Box::pin(async move { Ok(issued) })
    }
}
