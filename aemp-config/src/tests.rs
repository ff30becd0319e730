//! Tests of the rc file, profiles, endpoints and relaxed JSON.

use std::time::Duration;

use aemp_transport::{Framing, Value};

use super::*;
use crate::json::*;
use crate::map::*;
use crate::profile::*;
use aemp_transport::msg;

fn rc(text: &str) -> RcFile {
    RcFile::parse("/nonexistent/rc", text).unwrap()
}

#[test]
fn relaxed_json_is_read_as_json_xs_reads_it() {
    let v = parse_json("# top\n{ \"a\": [1, 2.5, -3, 18446744073709551615, true, null,],\n\"b\":\t\"x\\u00e9\\ud83d\\ude00\ty\", # c\n \"a\": 0,}").unwrap();
    assert_eq!(
        v,
        Value::Map(vec![
            (Value::from("a"), Value::from(0)),
            (Value::from("b"), Value::from("xé😀\ty")),
        ])
    );
    assert_eq!(
        parse_json("[1,2,]").unwrap(),
        Value::Array(msg![1, 2].to_vec())
    );
}

#[test]
fn json_errors_have_line_and_column() {
    let cases = [
        ("{\"a\": 1,\n \"b\" 2}", 2, 6, "expected ':'"),
        ("[1, 2", 1, 6, "expected ',' or ']'"),
        ("{,}", 1, 2, "expected a string key"),
        ("[1,,]", 1, 4, "expected a value"),
        ("{\"a\": tru}", 1, 7, "expected a value"),
        ("\"abc", 1, 1, "unterminated string"),
        ("[\"é\", 01]", 1, 7, "leading zero"),
        ("{} x", 1, 4, "unexpected text"),
        ("", 1, 1, "expected a value"),
        ("[\"a\nb\"]", 1, 4, "control character"),
    ];
    for (text, line, column, msg) in cases {
        let e = parse_json(text).unwrap_err();
        assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
        assert!(e.message.contains(msg), "{text:?}: {e}");
    }
}

#[test]
fn written_json_reads_back_and_looks_like_json_xs_pretty() {
    let mut r = RcFile::new("/nonexistent/rc");
    r.set(None, "secret", "s\"\n");
    r.set(
        Some("web"),
        "binds",
        Value::Array(msg!["127.0.0.1:4040"].to_vec()),
    );
    r.set(Some("web"), "parent", "x");
    r.set(Some("empty"), "services", Value::Array(vec![]));
    let text = r.to_text();
    assert_eq!(
        text,
        "{\n   \"version\" : 1,\n   \"secret\" : \"s\\\"\\n\",\n   \"profile\" : {\n      \"web\" : {\n         \"binds\" : [\n            \"127.0.0.1:4040\"\n         ],\n         \"parent\" : \"x\"\n      },\n      \"empty\" : {\n         \"services\" : []\n      }\n   }\n}\n"
    );
    assert_eq!(rc(&text).root, r.root);
}

#[test]
fn merge_order_is_defaults_args_global_parents_profile() {
    let r = rc(r#"{
        "secret": "global", "nodeid": "g", "monitor_timeout": 7, "connect_interval": "3",
        "profile": {
            "grand": { "secret": "grand", "binds": ["*:1"], "seeds": "a:1,b:2" },
            "mid": { "parent": "grand", "secret": "mid", "nodeid": "m/%n" },
            "leaf": { "parent": "mid", "framing_format": ["json"], "nodelay": 0,
                      "services": ["aemp::echo", ["aemp::sequence", 1]] },
        },
    }"#);
    let args = [
        ("monitor_timeout".to_owned(), Value::from(99)),
        ("auth_offer".to_owned(), Value::from("hmac_sha3_512")),
    ];
    let m = r.effective(Some("leaf"), &args).unwrap();
    assert_eq!(map_get(&m, "monitor_timeout"), Some(&Value::from(7)));
    assert_eq!(
        map_get(&m, "auth_offer"),
        Some(&Value::from("hmac_sha3_512"))
    );
    assert!(map_get(&m, "parent").is_none() && map_get(&m, "profile").is_none());
    let p = r.profile_settings("leaf").unwrap();
    assert_eq!(p.secret.as_deref(), Some("mid"));
    assert_eq!(p.nodeid.as_deref(), Some("m/%n"));
    assert_eq!(p.binds, Some(vec!["*:1".to_owned()]));
    assert_eq!(p.seeds, vec!["a:1".to_owned(), "b:2".to_owned()]);
    assert_eq!(p.monitor_timeout, Some(Duration::from_secs(7)));
    assert_eq!(p.connect_interval, Some(Duration::from_secs(3)));
    assert_eq!(p.framing_format, Some(vec!["json".to_owned()]));
    assert_eq!(p.nodelay, Some(false));
    assert_eq!(
        p.services,
        vec![
            Service {
                name: "aemp::echo".into(),
                args: vec![]
            },
            Service {
                name: "aemp::sequence".into(),
                args: vec![Value::from(1)]
            },
        ]
    );
    // Unknown profiles are empty; the global keys and defaults still apply.
    let none = r.profile_settings("nope").unwrap();
    assert_eq!(none.secret.as_deref(), Some("global"));
    assert_eq!(
        none.auth_offer,
        Some(vec!["tls_sha3_512".to_owned(), "hmac_sha3_512".to_owned()])
    );
}

#[test]
fn parent_loops_are_reported() {
    let r = rc(
        r#"{"profile": {"a": {"parent": "b"}, "b": {"parent": "c"}, "c": {"parent": "b"}, "s": {"parent": "s"}}}"#,
    );
    let e = r.effective(Some("a"), &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the profile parents form a loop: b -> c -> b"
    );
    assert!(r.effective(Some("s"), &[]).is_err());
    // A missing parent is an empty profile, as in Perl.
    let r = rc(r#"{"profile": {"a": {"parent": "gone", "secret": "x"}}}"#);
    assert_eq!(
        r.profile_settings("a").unwrap().secret.as_deref(),
        Some("x")
    );
}

#[test]
fn bad_shapes_and_values_are_errors() {
    for text in ["[]", "{\"profile\": 1}", "{\"profile\": {\"a\": []}}"] {
        assert!(matches!(
            RcFile::parse("/x", text),
            Err(ProfileError::Invalid { .. })
        ));
    }
    let r = rc(r#"{"monitor_timeout": "soon", "profile": {"b": {"binds": {}}}}"#);
    assert!(r
        .profile_settings("a")
        .unwrap_err()
        .to_string()
        .starts_with("monitor_timeout"));
}

#[test]
fn node_ids_and_addresses_expand() {
    let id = expand_node_id("aemp/%n/%u");
    let parts: Vec<&str> = id.split('/').collect();
    assert_eq!(parts[1], nodename());
    assert_eq!(parts[2].len(), 10);
    assert_eq!(expand_node_id("100%"), "100%");
    assert_eq!(bind_address("4040"), format!("{}:4040", nodename()));
    assert_eq!(bind_address("[::1]:*"), "[::1]:0");
    assert_eq!(bind_address("host"), "host:0");
    assert_eq!(seed_address("*"), "127.0.0.1:4040");
    assert_eq!(seed_address("[::1]"), "[::1]:4040");
}

#[test]
fn saving_is_atomic_and_keeps_the_old_file() {
    let dir = std::env::temp_dir().join(format!("aemp-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rc");
    let _ = std::fs::remove_file(&path);
    let mut r = RcFile::load_from(&path).unwrap();
    assert!(!r.is_modified());
    r.set(None, "secret", "one");
    assert!(r.is_modified());
    r.save().unwrap();
    assert!(!r.is_modified());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    r.set(None, "secret", "two");
    r.save().unwrap();
    let old = std::fs::read_to_string(dir.join("rc~")).unwrap();
    assert!(old.contains("\"one\""));
    let again = RcFile::load_from(&path).unwrap();
    assert_eq!(again.get(None, "secret"), Some(&Value::from("two")));
    assert!(!dir.join("rc~new~").exists());
    std::fs::write(&path, "{\"secret\": \"x\",\n  oops }").unwrap();
    match RcFile::load_from(&path) {
        Err(ProfileError::Syntax { line, column, .. }) => assert_eq!((line, column), (2, 3)),
        other => panic!("{other:?}"),
    }
    std::fs::write(&path, b"{\"a\": \"\xff\"}").unwrap();
    assert!(matches!(
        RcFile::load_from(&path),
        Err(ProfileError::Syntax {
            line: 1,
            column: 8,
            ..
        })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_builder_takes_what_it_leaves_unset_from_the_profile() {
    let dir = std::env::temp_dir().join(format!("aemp-profile-b-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rc");
    std::fs::write(
        &path,
        r#"{"secret": "s", "profile": {"p": {"nodeid": "prof-%u", "binds": ["127.0.0.1:*"],
           "framing_format": ["storable", "json"], "connect_interval": 0.5}}}"#,
    )
    .unwrap();
    // The only test of this crate that reads the variable.
    std::env::set_var(RC_ENV, &path);
    let d = RcFile::load()
        .unwrap()
        .profile_settings("p")
        .unwrap()
        .to_defaults()
        .unwrap();
    assert!(d.node_id.as_deref().unwrap().starts_with("prof-"));
    assert_eq!(d.binds, Some(vec!["127.0.0.1:0".to_owned()]));
    assert_eq!(d.secret.as_deref(), Some("s"));
    assert_eq!(d.framings, Some(vec![Framing::Json]));
    assert_eq!(d.connect_interval, Some(Duration::from_millis(500)));
    // Unset settings come from the profile when the node starts; explicit ones win.
    let profiled = Node::builder().profile("p").start().await.unwrap();
    assert!(profiled.id().starts_with("prof-"), "{}", profiled.id());
    profiled.shutdown().await;
    let node = Node::builder()
        .profile("p")
        .node_id("explicit-id")
        .start()
        .await
        .unwrap();
    assert_eq!(node.id(), "explicit-id");
    assert_eq!(node.listen_addrs()[0].ip().to_string(), "127.0.0.1");
    node.shutdown().await;
    std::fs::write(&path, "{").unwrap();
    let e = Node::builder().profile("p").start().await.unwrap_err();
    assert!(e.to_string().contains("line 1, column 2"), "{e}");
    std::env::remove_var(RC_ENV);
    std::fs::remove_dir_all(&dir).unwrap();
}

use aemp_actor::Node;
