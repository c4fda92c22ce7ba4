//! Helpers shared by the `quorate` binary's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary with `args` and waits for it.
pub(crate) fn quorate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quorate"))
        .args(args)
        .output()
        .expect("the quorate binary runs")
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Makes a key and certificate for each party under `d/keys` (each on a
/// free loopback port) and writes their entries to `d/parties.toml`.
pub(crate) fn keys_and_parties(d: &Path, names: &[&str]) -> PathBuf {
    // Ports are all bound at once, so two parties never get the same one.
    let sockets: Vec<std::net::TcpListener> = names
        .iter()
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut parties = String::new();
    for (name, sock) in names.iter().zip(&sockets) {
        let port = sock.local_addr().unwrap().port();
        let o = quorate(&[
            "keys",
            "gen",
            "--party",
            name,
            "--out",
            d.join("keys").to_str().unwrap(),
            "--address",
            &format!("127.0.0.1:{port}"),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        parties.push_str(&stdout(&o));
    }
    let pf = d.join("parties.toml");
    std::fs::write(&pf, parties).unwrap();
    pf
}
