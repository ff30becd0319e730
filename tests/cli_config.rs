//! `aemp`'s configuration commands as operators run them: chains, the rc file they write
//! (checked against what Perl's JSON::XS reads and Perl aemp's merge), errors, help.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value as Json};

/// A temporary directory with the rc file `rc` in it; removed when dropped.
struct Rc {
    dir: PathBuf,
}

impl Rc {
    fn new(name: &str) -> Rc {
        let dir = std::env::temp_dir().join(format!("aemp-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Rc { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("rc")
    }

    fn aemp(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aemp"))
            .args(args)
            .env("AEMP_RC", self.path())
            .env_remove("PERL_ANYEVENT_MP_RC")
            .output()
            .expect("run aemp")
    }

    /// Runs `args`, which must succeed; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.aemp(args);
        assert!(
            out.status.success(),
            "aemp {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `args`, which must fail with `code`; returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.aemp(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "aemp {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn json(&self) -> Json {
        serde_json::from_str(&std::fs::read_to_string(self.path()).unwrap()).unwrap()
    }

    fn text(&self) -> Option<String> {
        std::fs::read_to_string(self.path()).ok()
    }
}

impl Drop for Rc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn perl(script: &str, args: &[&Path]) -> String {
    let out = Command::new("perl")
        .arg("-e")
        .arg(script)
        .args(args)
        .output()
        .expect("run perl");
    assert!(
        out.status.success(),
        "perl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_chain_writes_the_file_perl_aemp_writes() {
    let rc = Rc::new("chain");
    assert_eq!(
        rc.ok(&[
            "gensecret",
            "profile",
            "web",
            "setbinds",
            "127.0.0.1:4040",
            "setparent",
            "x"
        ]),
        ""
    );
    let v = rc.json();
    let secret = v["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.len() >= 80 && secret.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{secret}"
    );
    assert_eq!(
        v,
        json!({"version": 1, "secret": secret,
               "profile": {"web": {"binds": ["127.0.0.1:4040"], "parent": "x"}}})
    );
    // Written as JSON::XS's pretty writer does, readable by it as AnyEvent::MP reads it.
    let text = rc.text().unwrap();
    assert!(
        text.contains("\n   \"profile\" : {\n      \"web\" : {"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(rc.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the file holds the secret");
    }
    // A second save keeps the previous file as `rc~`, as Perl does.
    rc.ok(&["gensecret"]);
    let old: Json =
        serde_json::from_str(&std::fs::read_to_string(rc.dir.join("rc~")).unwrap()).unwrap();
    assert_eq!(old["secret"], json!(secret));
    assert_ne!(rc.json()["secret"], json!(secret));
    assert!(!rc.dir.join("rc~new~").exists());

    if support::peer::require().is_none() {
        return;
    }
    let perl_read = perl(
        r#"use JSON::XS; local $/; open my $fh, "<:raw", $ARGV[0] or die "$!";
           print JSON::XS->new->canonical->encode (JSON::XS->new->utf8->relaxed->decode (<$fh>))"#,
        &[&rc.path()],
    );
    assert_eq!(serde_json::from_str::<Json>(&perl_read).unwrap(), rc.json());
}

#[test]
fn every_setter_its_alias_and_its_del_form() {
    let rc = Rc::new("setters");
    rc.ok(&[
        "secret",
        "s",
        "nodeid",
        "n/%n/%u",
        "seeds",
        "a:1,b:2",
        "addseed",
        "c:3",
        "addseed",
        "a:1",
        "delseed",
        "b:2",
        "binds",
        r#"["*:4040", "x:1"]"#,
        "addbind",
        "y:2",
        "delbind",
        "*:4040",
        "services",
        "aemp::echo,aemp::echo",
        "addservice",
        r#"["aemp::sequence", 1]"#,
        "delservice",
        "aemp::echo",
        "monitor_timeout",
        "10",
        "connect_interval",
        "0.5",
        "framing_format",
        "json,cbor",
        "auth_offer",
        "hmac_sha3_512",
        "auth_accept",
        r#"["hmac_sha3_512", "cleartext"]"#,
        "nodelay",
        "0",
        "autocork",
        "true",
    ]);
    assert_eq!(
        rc.json(),
        json!({
            "version": 1, "secret": "s", "nodeid": "n/%n/%u",
            "seeds": ["c:3", "a:1"], "binds": ["x:1", "y:2"],
            "services": ["aemp::echo", ["aemp::sequence", 1]],
            "monitor_timeout": 10, "connect_interval": 0.5,
            "framing_format": ["json", "cbor"], "auth_offer": ["hmac_sha3_512"],
            "auth_accept": ["hmac_sha3_512", "cleartext"], "nodelay": 0, "autocork": 1,
        })
    );
    // The set forms have the same effect as the aliases.
    rc.ok(&[
        "setsecret",
        "t",
        "setmonitor_timeout",
        "3",
        "setnodelay",
        "1",
    ]);
    let v = rc.json();
    assert_eq!(
        (&v["secret"], &v["monitor_timeout"], &v["nodelay"]),
        (&json!("t"), &json!(3), &json!(1))
    );
    rc.ok(&[
        "delsecret",
        "delnodeid",
        "delseeds",
        "delbinds",
        "delservices",
        "delmonitor_timeout",
        "delconnect_interval",
        "delframing_format",
        "delauth_offer",
        "delauth_accept",
        "delnodelay",
        "delautocork",
    ]);
    assert_eq!(rc.json(), json!({"version": 1}));

    // Values are checked before anything is written.
    for (args, msg) in [
        (
            vec!["monitor_timeout", "soon"],
            "positive number of seconds",
        ),
        (vec!["connect_interval", "-1"], "positive number of seconds"),
        (vec!["nodelay", "maybe"], "boolean"),
        (vec!["setnodeid", "a#b"], "separator"),
        (vec!["setsecret", ""], "must not be empty"),
        (vec!["auth_offer", ""], "must not be empty"),
    ] {
        let err = rc.fails(&args, 1);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    assert_eq!(rc.json(), json!({"version": 1}));
}

#[test]
fn profiles_scope_commands_and_show_the_merged_config() {
    let rc = Rc::new("profiles");
    rc.ok(&[
        "setsecret",
        "global",
        "monitor_timeout",
        "7",
        "profile",
        "base",
        "setsecret",
        "base",
        "setbinds",
        "*:4040",
        "profile",
        "web",
        "setparent",
        "base",
        "setseeds",
        "db1:4040",
        "profile",
        "other",
        "setsecret",
        "other",
    ]);
    let show = rc.ok(&["showprofile", "web"]);
    assert_eq!(
        serde_json::from_str::<Json>(&show).unwrap(),
        json!({"parent": "base", "seeds": ["db1:4040"]})
    );
    assert_eq!(rc.ok(&["showprofile", "nope"]).trim(), "{}");
    let merged: Json = serde_json::from_str(&rc.ok(&[
        "showconfig",
        "web",
        "monitor_timeout",
        "99",
        "connect_interval",
        "9",
    ]))
    .unwrap();
    assert_eq!(
        merged,
        json!({
            "version": 1,
            "secret": "base",          // the parent beats the global keys
            "monitor_timeout": 7,      // the global keys beat the arguments
            "connect_interval": "9",   // the arguments beat the defaults
            "binds": ["*:4040"], "seeds": ["db1:4040"],
            "framing_format": ["cbor", "json", "storable"],
            "auth_offer": ["tls_sha3_512", "hmac_sha3_512"],
            "auth_accept": ["tls_sha3_512", "hmac_sha3_512", "tls_anon", "cleartext"],
        })
    );
    // Without a name: the profile named after the host (here: none, so the global keys).
    let host: Json = serde_json::from_str(&rc.ok(&["showconfig"])).unwrap();
    assert_eq!(host["secret"], json!("global"));

    // Perl aemp's own merge (AnyEvent::MP::Config::find_profile with 2.x's defaults) agrees.
    if support::peer::require().is_some() {
        let perl_merged = perl(
            r#"use JSON::XS; local $/; open my $fh, "<:raw", $ARGV[0] or die "$!";
               our %CFG = %{ JSON::XS->new->utf8->relaxed->decode (<$fh>) };
               sub _find_profile($);
               sub _find_profile($) {
                  my ($name) = @_;
                  if (defined $name) {
                     my $profile = $CFG{profile}{$name};
                     return _find_profile $profile->{parent}, %$profile;
                  } else {
                     return %CFG;
                  }
               }
               my $p = {
                  monitor_timeout  => 30, connect_interval => 2,
                  framing_format   => [qw(cbor json storable)],
                  auth_offer       => [qw(tls_sha3_512 hmac_sha3_512)],
                  auth_accept      => [qw(tls_sha3_512 hmac_sha3_512 tls_anon cleartext)],
                  monitor_timeout => 99, connect_interval => "9",
                  _find_profile "web",
               };
               delete $p->{profile}; delete $p->{parent};
               print JSON::XS->new->canonical->encode ($p)"#,
            &[&rc.path()],
        );
        assert_eq!(serde_json::from_str::<Json>(&perl_merged).unwrap(), merged);
    }

    rc.ok(&["profile", "web", "delparent", "delprofile", "other"]);
    let v = rc.json();
    assert_eq!(v["profile"]["web"], json!({"seeds": ["db1:4040"]}));
    assert!(v["profile"].get("other").is_none());
}

#[test]
fn parent_loops_are_refused_and_a_failing_chain_changes_nothing() {
    let rc = Rc::new("loops");
    rc.ok(&["profile", "a", "setparent", "b"]);
    let before = rc.text().unwrap();
    let err = rc.fails(
        &[
            "profile",
            "b",
            "setparent",
            "c",
            "profile",
            "c",
            "setparent",
            "a",
        ],
        1,
    );
    assert!(err.contains("loop: c -> a -> b -> c"), "{err}");
    assert_eq!(rc.text().unwrap(), before);
    let err = rc.fails(&["setparent", "a"], 1);
    assert!(err.contains("aemp profile NAME setparent PARENT"), "{err}");

    let fresh = Rc::new("nothing");
    let err = fresh.fails(&["setsecret", "a", "setcert", "/nonexistent.pem"], 1);
    assert!(err.contains("cannot read /nonexistent.pem"), "{err}");
    assert!(fresh.text().is_none(), "no file was written");
}

#[test]
fn a_malformed_file_is_reported_with_its_position_and_never_overwritten() {
    let rc = Rc::new("malformed");
    let broken = "{\n  \"secret\": \"s\",\n  \"binds\" [\"*\"]\n}\n";
    std::fs::write(rc.path(), broken).unwrap();
    for args in [
        vec!["setsecret", "x"],
        vec!["showconfig"],
        vec!["gensecret", "profile", "p", "setbinds", "*"],
        vec!["run", "--secret", "s", "--bind", "127.0.0.1:0"],
        vec!["cal", "--seed", "127.0.0.1:1", "--secret", "s", "n#p"],
    ] {
        let err = rc.fails(&args, 1);
        assert!(err.contains("line 3, column 11"), "{args:?}: {err}");
        assert!(err.contains("expected ':'"), "{args:?}: {err}");
        assert!(err.contains("left as it is"), "{args:?}: {err}");
        assert_eq!(rc.text().unwrap(), broken);
    }
    std::fs::write(rc.path(), "[1, 2]").unwrap();
    let err = rc.fails(&["setsecret", "x"], 1);
    assert!(err.contains("the top level must be an object"), "{err}");
    assert_eq!(rc.text().unwrap(), "[1, 2]");
}

#[test]
fn relaxed_json_as_perl_writes_and_people_edit_it() {
    let rc = Rc::new("relaxed");
    std::fs::write(
        rc.path(),
        "# written by hand\n{\n   \"version\" : 1,\n   \"profile\" : {\n      \"web\" : {\n         \"binds\" : [ \"*:4040\", ],  # trailing comma\n      },\n   },\n}\n",
    )
    .unwrap();
    rc.ok(&["profile", "web", "addbind", "127.0.0.1:1"]);
    assert_eq!(
        rc.json(),
        json!({"version": 1, "profile": {"web": {"binds": ["*:4040", "127.0.0.1:1"]}}})
    );
    if support::peer::require().is_some() {
        // A file Perl's aemp wrote (JSON::XS pretty, random key order) reads the same.
        std::fs::write(
            rc.path(),
            perl(
                r#"use JSON::XS; print JSON::XS->new->pretty->utf8->encode ({version => 1,
                   secret => "p\x{e9}", profile => {web => {binds => ["*:4040"], parent => "b"},
                   b => {seeds => ["s:1"]}}})"#,
                &[],
            ),
        )
        .unwrap();
        let merged: Json = serde_json::from_str(&rc.ok(&["showconfig", "web"])).unwrap();
        assert_eq!(merged["secret"], json!("p\u{e9}"));
        assert_eq!(merged["seeds"], json!(["s:1"]));
    }
}

#[test]
fn json_arguments_are_decoded_as_perl_aemp_does() {
    let rc = Rc::new("jsonargs");
    rc.ok(&[r#"["setsecret", "s", "profile", "p", "setbinds", ["a:1", "b:2"], "addservice", ["aemp::echo", 1, {"k": null}]]"#]);
    assert_eq!(
        rc.json(),
        json!({"version": 1, "secret": "s", "profile": {"p": {
            "binds": ["a:1", "b:2"], "services": [["aemp::echo", 1, {"k": null}]]}}})
    );
    rc.ok(&["setsecret", "\"quoted, with a comma\""]);
    assert_eq!(rc.json()["secret"], json!("quoted, with a comma"));
    let err = rc.fails(&["setbinds", "[\"a:1\",\n 2"], 2);
    assert!(
        err.contains("argument 2") && err.contains("line 2, column 3"),
        "{err}"
    );
    let err = rc.fails(&["[\"setsecret\"", "x"], 2);
    assert!(err.contains("must be the only argument"), "{err}");
}

#[test]
fn certificates_are_generated_and_read_from_files() {
    let rc = Rc::new("certs");
    rc.ok(&["profile", "tls", "gencert"]);
    let pem = rc.json()["profile"]["tls"]["cert"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        pem.contains("-----BEGIN PRIVATE KEY-----") && pem.contains("-----BEGIN CERTIFICATE-----")
    );
    let file = rc.dir.join("both.pem");
    std::fs::write(&file, support::certs::self_signed_pem()).unwrap();
    rc.ok(&["setcert", file.to_str().unwrap()]);
    assert_eq!(
        rc.json()["cert"],
        json!(std::fs::read_to_string(&file).unwrap())
    );
    std::fs::write(&file, "not a pem").unwrap();
    let err = rc.fails(&["setcert", file.to_str().unwrap()], 1);
    assert!(err.contains("both.pem"), "{err}");
    rc.ok(&["delcert", "profile", "tls", "delcert"]);
    assert_eq!(rc.json(), json!({"version": 1, "profile": {"tls": {}}}));

    // Perl's OpenSSL takes the generated PEM as its key, certificate and trust root.
    if support::peer::require_tls().is_some() {
        std::fs::write(&file, &pem).unwrap();
        perl(
            r#"use Net::SSLeay; Net::SSLeay::initialize ();
               my $ctx = Net::SSLeay::CTX_new () or die;
               Net::SSLeay::CTX_use_PrivateKey_file ($ctx, $ARGV[0], Net::SSLeay::FILETYPE_PEM ()) or die "key";
               Net::SSLeay::CTX_use_certificate_chain_file ($ctx, $ARGV[0]) or die "cert";
               Net::SSLeay::CTX_load_verify_locations ($ctx, $ARGV[0], "") or die "ca";
               Net::SSLeay::CTX_check_private_key ($ctx) or die "mismatch""#,
            &[&file],
        );
    }
}

#[test]
fn help_on_every_command_and_the_version() {
    let rc = Rc::new("help");
    assert_eq!(
        rc.ok(&["--version"]).trim(),
        format!("aemp {}", env!("CARGO_PKG_VERSION"))
    );
    let general = rc.ok(&["--help"]);
    for word in [
        "gensecret",
        "showconfig",
        "snd",
        "cal",
        "mon",
        "run",
        "ping",
        "--seed",
    ] {
        assert!(general.contains(word), "{word}: {general}");
    }
    assert_eq!(rc.ok(&["help"]), general);
    let commands = [
        "snd",
        "cal",
        "mon",
        "nodes",
        "lookup",
        "db",
        "eval",
        "shell",
        "restart",
        "trace",
        "setnodeid",
        "delnodeid",
        "gensecret",
        "setsecret",
        "delsecret",
        "gencert",
        "setcert",
        "delcert",
        "setseeds",
        "delseeds",
        "addseed",
        "delseed",
        "setbinds",
        "delbinds",
        "addbind",
        "delbind",
        "setservices",
        "delservices",
        "addservice",
        "delservice",
        "profile",
        "delprofile",
        "setparent",
        "delparent",
        "showprofile",
        "showconfig",
        "setmonitor_timeout",
        "delmonitor_timeout",
        "connect_interval",
        "framing_format",
        "auth_offer",
        "auth_accept",
        "autocork",
        "nodelay",
        "secret",
        "binds",
    ];
    for cmd in commands {
        let out = rc.ok(&[cmd, "--help"]);
        assert!(out.starts_with("Usage: aemp "), "{cmd}: {out}");
        assert_eq!(rc.ok(&["help", cmd]), out, "{cmd}");
    }
    assert!(rc
        .ok(&["secret", "--help"])
        .contains("Usage: aemp setsecret SECRET"));
    // After a command, --help describes that command; nothing runs.
    assert!(rc.ok(&["gensecret", "--help"]).contains("gensecret"));
    assert!(rc
        .ok(&["profile", "x", "setseeds", "-h"])
        .contains("Usage: aemp setseeds"));
    assert!(rc
        .ok(&["cal", "--seed", "h:1", "--help"])
        .contains("--timeout SECONDS"));
    for cmd in ["run", "ping"] {
        let out = rc.ok(&[cmd, "--help"]);
        assert!(out.contains("Usage: aemp"), "{out}");
    }
    assert!(rc.ok(&["run", "--help"]).contains("--profile"));
    assert!(rc.text().is_none(), "help wrote nothing");
}

#[test]
fn usage_errors_and_refused_commands() {
    let rc = Rc::new("usage");
    for (args, code, msg) in [
        (vec![], 2, "no command given"),
        (vec!["bogus"], 2, "bogus: no such aemp command"),
        (vec!["setsecret"], 2, "SECRET is missing"),
        (vec!["gensecret", "run"], 2, "run must be the first command"),
        (
            vec!["eval", "node", "1+1"],
            1,
            "aemp never runs code sent over the network",
        ),
        (
            vec!["shell"],
            1,
            "aemp never runs code sent over the network",
        ),
        (
            vec!["restart", "node"],
            1,
            "aemp never runs code sent over the network",
        ),
        (vec!["trace", "node"], 1, "not supported"),
        (vec!["showconfig", "p", "key"], 1, "pairs"),
        (vec!["snd"], 2, "PORT is missing"),
        (vec!["cal", "--bogus", "x"], 2, "unknown option --bogus"),
        (
            vec!["mon", "--timeout", "0", "n#p"],
            2,
            "--timeout must be a positive number",
        ),
        (vec!["mon", "n#p", "extra"], 2, "takes only a port"),
        (vec!["cal", "a;b#c"], 2, "invalid port id"),
    ] {
        let err = rc.fails(&args, code);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    assert!(rc.text().is_none());
}
