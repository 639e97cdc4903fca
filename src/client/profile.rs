//! `~/.config/zt/config.toml`: one `[profiles.NAME]` table per broker. It
//! names the broker zt logs in to, so it is read and written only inside a
//! checked `…/zt` directory, and read only when no one else can change it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::Error;
use zt_os::private_dir::Location;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub broker: String,
}

impl ClientConfig {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let (location, name) = split(path)?;
        let Some(dir) = location.open()? else {
            return Ok(ClientConfig::default());
        };
        let Some(bytes) = dir.read_owned(name)? else {
            return Ok(ClientConfig::default());
        };
        let text = String::from_utf8(bytes)
            .map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| Error::config(format!("{}: {e}", path.display())))
    }

    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = toml::to_string_pretty(self).map_err(|e| Error::internal(e.to_string()))?;
        let (location, name) = split(path)?;
        Ok(location.create()?.write_private(name, text.as_bytes())?)
    }
}

/// `…/zt/config.toml`: the `zt` directory is zt's own, the rest the user's base.
fn split(path: &Path) -> Result<(Location, &str), Error> {
    let bad = || Error::config(format!("{}: not a usable file name", path.display()));
    let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(bad)?;
    let dir = path.parent().ok_or_else(bad)?;
    Ok((Location::split(dir, 1)?, name))
}
