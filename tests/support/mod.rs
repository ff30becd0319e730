//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod aemp_run;
pub mod certs;
pub mod examples;
pub mod nodes;
pub mod peer;
