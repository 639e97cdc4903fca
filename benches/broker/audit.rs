//! What the broker's SQLite database says after a level: audit rows and used nonces.

use std::path::Path;

use anyhow::{Context, Result};

use super::policies::PASSED;

fn open_db(db: &Path) -> Result<rusqlite::Connection> {
    rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("open {}", db.display()))
}

pub fn last_audit_seq(db: &Path) -> Result<i64> {
    Ok(
        open_db(db)?.query_row("SELECT coalesce(max(seq), 0) FROM audit", [], |row| {
            row.get(0)
        })?,
    )
}

/// What the audit log and the once ledger say about a level.
pub struct Durability {
    /// `certificate_issued` rows after `since`.
    pub issued: i64,
    /// Of those, the rows whose posture facts show every requirement met.
    pub issued_with_posture: i64,
    /// Of the level's nonces, those in the once ledger (used up).
    pub nonces_used: i64,
}

pub fn durability(db: &Path, since: i64, nonces: &[String]) -> Result<Durability> {
    let conn = open_db(db)?;
    let mut statement = conn.prepare(
        r#"SELECT record FROM audit WHERE seq > ?1 AND record LIKE '%"kind":"certificate_issued"%'"#,
    )?;
    let (mut issued, mut issued_with_posture) = (0, 0);
    for record in statement.query_map([since], |row| row.get::<_, String>(0))? {
        let record: serde_json::Value = serde_json::from_str(&record?)?;
        if record["kind"] != "certificate_issued" {
            continue;
        }
        issued += 1;
        let posture = &record["posture"];
        if posture["passed"] == serde_json::json!(PASSED) && posture.get("failing").is_none() {
            issued_with_posture += 1;
        }
    }
    let mut used =
        conn.prepare("SELECT count(*) FROM used_once WHERE kind = 'dpop_nonce' AND value = ?1")?;
    let mut nonces_used = 0;
    for nonce in nonces {
        nonces_used += used.query_row([nonce], |row| row.get::<_, i64>(0))?;
    }
    Ok(Durability {
        issued,
        issued_with_posture,
        nonces_used,
    })
}
