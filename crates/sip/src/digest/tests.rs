//! Table tests for digest authentication, with the RFC 2617 and RFC 7616 vectors.

use super::*;

const NOW: u64 = 1_790_000_000;

fn key() -> NonceKey {
    NonceKey::new(b"a-server-secret-of-at-least-32-bytes!!")
}

#[test]
fn rfc_2617_md5_vector() {
    let c = parse_credentials(
        r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
    )
    .unwrap();
    let got = expected_response(
        Algorithm::Md5,
        &c,
        "GET",
        "testrealm@host.com",
        "Circle Of Life",
    )
    .unwrap();
    assert_eq!(got, c.response);
}

#[test]
fn rfc_7616_sha256_and_md5_vectors() {
    let mut c = Credentials {
        username: "Mufasa".into(),
        realm: "http-auth@example.org".into(),
        nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
        uri: "/dir/index.html".into(),
        cnonce: Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ".into()),
        nc: Some("00000001".into()),
        qop: Some("auth".into()),
        ..Default::default()
    };
    let sha = expected_response(
        Algorithm::Sha256,
        &c,
        "GET",
        "http-auth@example.org",
        "Circle of Life",
    )
    .unwrap();
    assert_eq!(
        sha,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    let md5 = expected_response(
        Algorithm::Md5,
        &c,
        "GET",
        "http-auth@example.org",
        "Circle of Life",
    )
    .unwrap();
    assert_eq!(md5, "8ca523f5e9506fed4657c9700eebdbec");
    c.qop = None;
    assert!(
        expected_response(Algorithm::Md5, &c, "GET", "r", "p").is_ok(),
        "RFC 2069 form"
    );
}

/// Credentials as a client would compute them for a nonce we issued.
fn client(
    nonce: &str,
    alg: Algorithm,
    user: &str,
    password: &str,
    uri: &str,
    nc: &str,
) -> Credentials {
    let mut c = Credentials {
        username: user.into(),
        realm: "switchboard".into(),
        nonce: nonce.into(),
        uri: uri.into(),
        algorithm: Some(alg.name().into()),
        cnonce: Some("c1i3nt".into()),
        qop: Some("auth".into()),
        nc: Some(nc.into()),
        ..Default::default()
    };
    c.response = expected_response(alg, &c, "INVITE", "switchboard", password).unwrap();
    c
}

fn expect<'a>(algorithms: &'a [Algorithm]) -> Expected<'a> {
    Expected {
        username: "trunkuser",
        password: "s3cret",
        realm: "switchboard",
        method: "INVITE",
        call_id: "call-1@carrier",
        algorithms,
    }
}

#[test]
fn verification_table() {
    let k = key();
    let md5 = [Algorithm::Md5];
    let both = [Algorithm::Sha256, Algorithm::Md5];
    let nonce = k.issue(NOW, "call-1@carrier");
    let uri = "sip:+15550100@sip.example.net;transport=TLS";
    let ok = client(
        &nonce,
        Algorithm::Md5,
        "trunkuser",
        "s3cret",
        uri,
        "00000001",
    );
    let cases: Vec<(&str, Credentials, &[Algorithm], u64, Verdict)> = vec![
        (
            "right credentials",
            ok.clone(),
            &md5,
            NOW + 10,
            Verdict::Accepted,
        ),
        (
            "SHA-256 when offered",
            client(
                &nonce,
                Algorithm::Sha256,
                "trunkuser",
                "s3cret",
                uri,
                "00000001",
            ),
            &both,
            NOW,
            Verdict::Accepted,
        ),
        (
            "SHA-256 when not offered",
            client(
                &nonce,
                Algorithm::Sha256,
                "trunkuser",
                "s3cret",
                uri,
                "00000001",
            ),
            &md5,
            NOW,
            Verdict::Rejected("algorithm not offered"),
        ),
        (
            "nc parsed as hex (0a)",
            client(
                &nonce,
                Algorithm::Md5,
                "trunkuser",
                "s3cret",
                uri,
                "0000000a",
            ),
            &md5,
            NOW,
            Verdict::Accepted,
        ),
        (
            "nc above 255",
            client(
                &nonce,
                Algorithm::Md5,
                "trunkuser",
                "s3cret",
                uri,
                "00000100",
            ),
            &md5,
            NOW,
            Verdict::Accepted,
        ),
        (
            "wrong password",
            client(
                &nonce,
                Algorithm::Md5,
                "trunkuser",
                "guess",
                uri,
                "00000001",
            ),
            &md5,
            NOW,
            Verdict::Rejected("wrong username or password"),
        ),
        (
            "wrong user",
            client(&nonce, Algorithm::Md5, "other", "s3cret", uri, "00000001"),
            &md5,
            NOW,
            Verdict::Rejected("wrong username or password"),
        ),
        (
            "expired nonce",
            ok.clone(),
            &md5,
            NOW + NONCE_LIFETIME_SECS + 1,
            Verdict::Stale,
        ),
        (
            "nonce from the future",
            ok.clone(),
            &md5,
            NOW - 5,
            Verdict::Stale,
        ),
        (
            "other call's nonce",
            client(
                &k.issue(NOW, "call-2@carrier"),
                Algorithm::Md5,
                "trunkuser",
                "s3cret",
                uri,
                "00000001",
            ),
            &md5,
            NOW,
            Verdict::Rejected("nonce not issued for this call"),
        ),
        (
            "another key's nonce",
            client(
                &NonceKey::new(b"other").issue(NOW, "call-1@carrier"),
                Algorithm::Md5,
                "trunkuser",
                "s3cret",
                uri,
                "00000001",
            ),
            &md5,
            NOW,
            Verdict::Rejected("nonce not issued for this call"),
        ),
        (
            "bad nc",
            client(
                &nonce,
                Algorithm::Md5,
                "trunkuser",
                "s3cret",
                uri,
                "00000001",
            )
            .with_nc("1"),
            &md5,
            NOW,
            Verdict::Rejected("nc is not 8 hex digits"),
        ),
        (
            "unknown algorithm",
            ok.clone().with_algorithm("SHA-512-256"),
            &md5,
            NOW,
            Verdict::Rejected("unsupported algorithm"),
        ),
        (
            "wrong realm",
            ok.clone().with_realm("other"),
            &md5,
            NOW,
            Verdict::Rejected("wrong realm"),
        ),
    ];
    for (what, c, algs, now, want) in cases {
        assert_eq!(verify(&c, &expect(algs), &k, now), want, "{what}");
    }
    // The response is over the uri exactly as sent: a re-rendered uri does not verify.
    let mut rerendered = ok.clone();
    rerendered.uri = uri.replace("TLS", "tls");
    assert_eq!(
        verify(&rerendered, &expect(&md5), &k, NOW),
        Verdict::Rejected("wrong username or password")
    );
    // Upper-case hex in the response is accepted.
    let mut upper = ok;
    upper.response = upper.response.to_ascii_uppercase();
    assert_eq!(verify(&upper, &expect(&md5), &k, NOW), Verdict::Accepted);
}

impl Credentials {
    fn with_nc(mut self, nc: &str) -> Self {
        self.nc = Some(nc.into());
        self
    }
    fn with_algorithm(mut self, a: &str) -> Self {
        self.algorithm = Some(a.into());
        self
    }
    fn with_realm(mut self, r: &str) -> Self {
        self.realm = r.into();
        self
    }
}

#[test]
fn nonces_are_checked_strictly() {
    let k = key();
    let n = k.issue(NOW, "c");
    assert_eq!(n.len(), 48);
    assert_eq!(k.check(&n, NOW, "c"), NonceStatus::Valid);
    assert_eq!(
        k.check(&n, NOW + NONCE_LIFETIME_SECS, "c"),
        NonceStatus::Valid
    );
    assert_eq!(
        k.check(&n, NOW + NONCE_LIFETIME_SECS + 1, "c"),
        NonceStatus::Stale
    );
    let mut tampered = n.clone().into_bytes();
    tampered[47] = if tampered[47] == b'0' { b'1' } else { b'0' };
    assert_eq!(
        k.check(std::str::from_utf8(&tampered).unwrap(), NOW, "c"),
        NonceStatus::Invalid
    );
    // Moving the timestamp forward invalidates the MAC.
    let later = format!("{:016x}{}", NOW + 100, &n[16..]);
    assert_eq!(k.check(&later, NOW + 100, "c"), NonceStatus::Invalid);
    for bad in ["", "zz", &"0".repeat(48), &"g".repeat(48), &n[..47]] {
        assert_eq!(k.check(bad, NOW, "c"), NonceStatus::Invalid, "{bad:?}");
    }
}

#[test]
fn challenge_headers() {
    let c = Challenge {
        realm: "carrier \"east\"".into(),
        nonce: "abc".into(),
        algorithm: Algorithm::Md5,
        stale: false,
        proxy: false,
    };
    assert_eq!(c.status(), 401);
    assert_eq!(c.header_name(), "WWW-Authenticate");
    assert_eq!(
        c.header_value(),
        r#"Digest realm="carrier \"east\"", nonce="abc", algorithm=MD5, qop="auth""#
    );
    let p = Challenge {
        proxy: true,
        stale: true,
        algorithm: Algorithm::Sha256,
        ..c
    };
    assert_eq!((p.status(), p.header_name()), (407, "Proxy-Authenticate"));
    assert!(
        p.header_value()
            .ends_with("algorithm=SHA-256, qop=\"auth\", stale=true")
    );
    // What we send parses back as what a client reads.
    let parsed = params(p.header_value().trim_start_matches("Digest")).unwrap();
    assert!(parsed.contains(&("realm".into(), "carrier \"east\"".into())));
}

#[test]
fn parser_table() {
    let ok = [
        r#"Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="x""#,
        r#"digest   USERNAME = "u" ,REALM="r",nonce="n" , uri="sip:a@b",response="x""#,
        "Digest username=u,realm=r,nonce=n,uri=sip:a@b,response=x",
        r#"Digest username="u\"q", realm="a, b", nonce="n", uri="sip:a@b;transport=tcp", response="x", extra="ignored""#,
        "Digest\tusername=\"u\",\r\n realm=\"r\", nonce=\"n\", uri=\"sip:a@b\", response=\"x\"",
    ];
    for v in ok {
        let c = parse_credentials(v).unwrap_or_else(|e| panic!("{v}: {e}"));
        assert!(!c.username.is_empty() && c.nonce == "n", "{v}: {c:?}");
    }
    let c = parse_credentials(ok[3]).unwrap();
    assert_eq!(c.username, "u\"q");
    assert_eq!(c.realm, "a, b");
    let bad = [
        "",
        "Basic dXNlcjpwYXNz",
        "Digest",
        r#"Digest username="u", realm="r", nonce="n", uri="sip:a@b""#,
        r#"Digest username="u, realm="r""#,
        r#"Digest username="u", ="x""#,
        r#"Digest username"#,
        r#"Digest username="a\"#,
    ];
    for v in bad {
        assert!(parse_credentials(v).is_err(), "{v:?} should not parse");
    }
    let huge = format!("Digest username=\"{}\"", "x".repeat(10_000));
    assert!(parse_credentials(&huge).is_err());
}

proptest::proptest! {
    #[test]
    fn hostile_headers_never_panic(s in ".{0,300}") {
        let _ = parse_credentials(&s);
        let _ = parse_credentials(&format!("Digest {s}"));
    }

    #[test]
    fn issued_nonces_always_check(now in 0u64..u64::MAX / 2, call_id in ".{0,40}") {
        let k = key();
        proptest::prop_assert_eq!(k.check(&k.issue(now, &call_id), now, &call_id), NonceStatus::Valid);
    }
}
