//! Configuration profiles: AnyEvent::MP's rc file, shared with Perl nodes and `aemp`.
//!
//! The file is `$AEMP_RC`, else `$PERL_ANYEVENT_MP_RC`, else `~/.perl-anyevent-mp`: relaxed
//! JSON (as JSON::XS's relaxed mode reads it: `#` comments, trailing commas) of the form
//!
//! ```text
//! { "version" : 1, "secret" : "...",
//!   "profile" : { "web" : { "binds" : ["127.0.0.1:4040"], "parent" : "base" } } }
//! ```
//!
//! Global keys apply to every profile; a profile may name a `parent` profile. The effective
//! settings of a profile merge, later winning (AnyEvent::MP 2.x): the built-in defaults, the
//! caller's arguments, the global keys, the parent chain (farthest ancestor first), the
//! profile itself. A profile that does not exist is empty, as in Perl.
//!
//! ```
//! use aemp_config::RcFile;
//! let rc = RcFile::parse(
//!     "/tmp/example-rc",
//!     r#"{ "version": 1, "secret": "s",   # global
//!          "profile": { "base": { "binds": ["*:4040"] },
//!                       "web":  { "parent": "base", "seeds": ["db1:4040",], }, }, }"#,
//! )
//! .unwrap();
//! let web = rc.profile_settings("web").unwrap();
//! assert_eq!(web.secret.as_deref(), Some("s"));
//! assert_eq!(web.binds, Some(vec!["*:4040".to_owned()]));
//! assert_eq!(web.seeds, vec!["db1:4040".to_owned()]);
//! ```
//!
//! | module | holds |
//! |---|---|
//! | `rc` | the file: locate, read, change, save |
//! | `profile` | a profile's typed settings and [`ProfileExt::profile`] for node builders |
//! | `endpoint` | node-id templates and endpoint syntax |
//! | `json` | relaxed JSON in, JSON out |
//! | `cert` | self-signed certificates for `tls_*` auth |

pub mod cert;
mod endpoint;
mod error;
mod json;
mod map;
mod profile;
mod rc;
#[cfg(test)]
mod tests;

pub use endpoint::{bind_address, expand_node_id, nodename, seed_address};
pub use error::{JsonError, ProfileError};
pub use json::{parse_json, to_json};
pub use profile::{Profile, ProfileExt, Service};
pub use rc::{rc_path, RcFile, PERL_RC_ENV, RC_ENV, RC_FILE_NAME};
