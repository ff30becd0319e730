//! [`RcFile`]: the rc file, where it is, reading it, changing it, saving it atomically, and
//! the effective settings of a profile (defaults, global keys, parents, the profile).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use aemp_transport::Value;

use crate::error::ProfileError;
use crate::json::{parse_json, position, to_json};
use crate::map::*;
use crate::profile::Profile;

/// The environment variable naming the rc file (checked first).
pub const RC_ENV: &str = "AEMP_RC";
/// AnyEvent::MP's environment variable naming the rc file (checked second).
pub const PERL_RC_ENV: &str = "PERL_ANYEVENT_MP_RC";
/// The rc file's name in the home directory.
pub const RC_FILE_NAME: &str = ".perl-anyevent-mp";

/// The rc file: its path and contents. Obtained only by reading a well-formed file (or
/// finding none), so [`RcFile::save`] never replaces a file it could not understand.
#[derive(Debug, Clone)]
pub struct RcFile {
    path: PathBuf,
    pub(crate) root: Vec<(Value, Value)>,
    modified: bool,
}

/// The rc file's path: `$AEMP_RC`, else `$PERL_ANYEVENT_MP_RC`, else `~/.perl-anyevent-mp`
/// (else `%APPDATA%/perl-anyevent-mp`). Empty variables count as unset.
pub fn rc_path() -> Result<PathBuf, ProfileError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(p) = var(RC_ENV).or_else(|| var(PERL_RC_ENV)) {
        return Ok(PathBuf::from(p));
    }
    if let Some(home) = var("HOME") {
        return Ok(PathBuf::from(home).join(RC_FILE_NAME));
    }
    if let Some(appdata) = var("APPDATA") {
        return Ok(PathBuf::from(appdata).join("perl-anyevent-mp"));
    }
    Err(ProfileError::NoPath)
}

impl RcFile {
    /// An empty rc file (`{"version":1}`) at `path`, not yet written.
    pub fn new(path: impl Into<PathBuf>) -> RcFile {
        RcFile {
            path: path.into(),
            root: vec![(Value::from("version"), Value::from(1))],
            modified: false,
        }
    }

    /// Reads the rc file at [`rc_path`]; a missing file reads as empty.
    pub fn load() -> Result<RcFile, ProfileError> {
        RcFile::load_from(rc_path()?)
    }

    /// Reads the rc file at `path`; a missing file reads as empty.
    pub fn load_from(path: impl Into<PathBuf>) -> Result<RcFile, ProfileError> {
        let path = path.into();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RcFile::new(path)),
            Err(source) => return Err(ProfileError::Read { path, source }),
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(e) => {
                // The valid prefix is text: the position is where it ends.
                let prefix = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
                let (line, column) = position(prefix, prefix.len());
                return Err(ProfileError::Syntax {
                    path,
                    line,
                    column,
                    message: "invalid UTF-8".into(),
                });
            }
        };
        RcFile::parse(path, text)
    }

    /// Reads rc file text; `path` is where [`RcFile::save`] will write it.
    pub fn parse(path: impl Into<PathBuf>, text: &str) -> Result<RcFile, ProfileError> {
        let path = path.into();
        let root = match parse_json(text) {
            Ok(Value::Map(m)) => m,
            Ok(other) => {
                return Err(ProfileError::Invalid {
                    path,
                    message: format!("the top level must be an object, not {}", other.kind()),
                })
            }
            Err(e) => {
                return Err(ProfileError::Syntax {
                    path,
                    line: e.line,
                    column: e.column,
                    message: e.message,
                })
            }
        };
        if let Some(profiles) = map_get(&root, "profile") {
            let Value::Map(profiles) = profiles else {
                return Err(ProfileError::Invalid {
                    path,
                    message: format!("\"profile\" must be an object, not {}", profiles.kind()),
                });
            };
            for (name, p) in profiles {
                if !matches!(p, Value::Map(_)) {
                    return Err(ProfileError::Invalid {
                        path,
                        message: format!("profile {name} must be an object, not {}", p.kind()),
                    });
                }
            }
        }
        Ok(RcFile {
            path,
            root,
            modified: false,
        })
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a setter changed anything since it was read or saved.
    pub fn is_modified(&self) -> bool {
        self.modified
    }

    /// The file's text as [`RcFile::save`] writes it (JSON::XS's pretty style).
    pub fn to_text(&self) -> String {
        let mut s = to_json(&Value::Map(self.root.clone()), true);
        s.push('\n');
        s
    }

    /// Writes the file atomically, as AnyEvent::MP does: to `PATH~new~`, then the old file
    /// is kept as the hard link `PATH~`, then `PATH~new~` is renamed over `PATH`. A new file
    /// is created readable by its owner only (it holds the secret).
    pub fn save(&mut self) -> Result<(), ProfileError> {
        let write_err = |path: &Path| {
            let path = path.to_owned();
            move |source| ProfileError::Write { path, source }
        };
        let new = suffixed(&self.path, "~new~");
        let old = suffixed(&self.path, "~");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let mode = std::fs::metadata(&self.path).map_or(0o600, |m| m.permissions().mode());
            options.mode(mode & 0o7777);
        }
        let mut file = options.open(&new).map_err(write_err(&new))?;
        let written = file
            .write_all(self.to_text().as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&new);
            return Err(write_err(&new)(e));
        }
        drop(file);
        let _ = std::fs::remove_file(&old);
        let _ = std::fs::hard_link(&self.path, &old);
        if let Err(e) = std::fs::rename(&new, &self.path) {
            let _ = std::fs::remove_file(&new);
            return Err(write_err(&self.path)(e));
        }
        self.modified = false;
        Ok(())
    }

    /// The value of `key` in `scope` (`None`: the global keys; `Some(name)`: that profile).
    pub fn get(&self, scope: Option<&str>, key: &str) -> Option<&Value> {
        map_get(self.scope(scope)?, key)
    }

    /// Sets `key` in `scope`, creating the profile if needed.
    pub fn set(&mut self, scope: Option<&str>, key: &str, value: impl Into<Value>) {
        map_set(self.scope_mut(scope), key, value.into());
        self.modified = true;
    }

    /// Removes `key` from `scope` (it is inherited again) and returns its value.
    pub fn remove(&mut self, scope: Option<&str>, key: &str) -> Option<Value> {
        self.scope(scope)?;
        let removed = map_remove(self.scope_mut(scope), key);
        self.modified |= removed.is_some();
        removed
    }

    /// The keys of profile `name` (only its own, nothing inherited).
    pub fn profile(&self, name: &str) -> Option<&[(Value, Value)]> {
        self.scope(Some(name))
    }

    /// The names of the profiles, in file order.
    pub fn profile_names(&self) -> Vec<String> {
        match map_get(&self.root, "profile") {
            Some(Value::Map(m)) => m.iter().map(|(k, _)| key_text(k)).collect(),
            _ => Vec::new(),
        }
    }

    /// Creates profile `name` if it does not exist (as `aemp profile NAME` does).
    pub fn create_profile(&mut self, name: &str) {
        self.scope_mut(Some(name));
        self.modified = true;
    }

    /// Deletes profile `name`; whether it existed.
    pub fn delete_profile(&mut self, name: &str) -> bool {
        self.modified = true;
        match map_get_mut(&mut self.root, "profile") {
            Some(Value::Map(m)) => map_remove(m, name).is_some(),
            _ => false,
        }
    }

    /// The effective settings of profile `name` (`None`: the global keys alone) as a map:
    /// the defaults, then `args`, then the global keys, the parent chain and the profile,
    /// later ones winning (AnyEvent::MP 2.x's `find_profile`). The bookkeeping keys
    /// `profile` and `parent` are left out.
    pub fn effective(
        &self,
        name: Option<&str>,
        args: &[(String, Value)],
    ) -> Result<Vec<(Value, Value)>, ProfileError> {
        let mut chain: Vec<(String, &[(Value, Value)])> = Vec::new(); // the profile, then ancestors
        let mut seen = HashSet::new();
        let mut next = name.map(str::to_owned);
        while let Some(n) = next.take() {
            if !seen.insert(n.clone()) {
                let mut names: Vec<String> = chain.iter().map(|(c, _)| c.clone()).collect();
                let start = names.iter().position(|x| *x == n).unwrap_or(0);
                names.drain(..start);
                names.push(n);
                return Err(ProfileError::ParentLoop { chain: names });
            }
            let keys = self.profile(&n).unwrap_or_default();
            next = map_get(keys, "parent").and_then(|p| p.to_text().map(|t| t.into_owned()));
            chain.push((n, keys));
        }
        let mut merged = defaults();
        for (k, v) in args {
            map_set(&mut merged, k, v.clone());
        }
        let layers = std::iter::once(self.root.as_slice()).chain(chain.iter().rev().map(|c| c.1));
        for layer in layers {
            for (k, v) in layer {
                map_set(&mut merged, &key_text(k), v.clone());
            }
        }
        map_remove(&mut merged, "profile");
        map_remove(&mut merged, "parent");
        Ok(merged)
    }

    /// The effective settings of profile `name`, typed.
    pub fn profile_settings(&self, name: &str) -> Result<Profile, ProfileError> {
        let mut p = Profile::from_map(&self.effective(Some(name), &[])?)?;
        p.name = Some(name.to_owned());
        Ok(p)
    }

    fn scope(&self, scope: Option<&str>) -> Option<&[(Value, Value)]> {
        match scope {
            None => Some(&self.root),
            Some(name) => match map_get(&self.root, "profile")? {
                Value::Map(m) => match map_get(m, name)? {
                    Value::Map(p) => Some(p),
                    _ => None,
                },
                _ => None,
            },
        }
    }

    fn scope_mut(&mut self, scope: Option<&str>) -> &mut Vec<(Value, Value)> {
        let Some(name) = scope else {
            return &mut self.root;
        };
        let profiles = entry_map(&mut self.root, "profile");
        entry_map(profiles, name)
    }
}

/// The 2.x built-in defaults (`find_profile`).
pub(crate) fn defaults() -> Vec<(Value, Value)> {
    let list = |items: &[&str]| Value::Array(items.iter().map(|s| Value::from(*s)).collect());
    vec![
        (Value::from("monitor_timeout"), Value::from(30)),
        (Value::from("connect_interval"), Value::from(2)),
        (
            Value::from("framing_format"),
            list(&["cbor", "json", "storable"]),
        ),
        (
            Value::from("auth_offer"),
            list(&["tls_sha3_512", "hmac_sha3_512"]),
        ),
        (
            Value::from("auth_accept"),
            list(&["tls_sha3_512", "hmac_sha3_512", "tls_anon", "cleartext"]),
        ),
    ]
}
