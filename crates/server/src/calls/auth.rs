//! Digest authorization of an INVITE against its matched trunk (SPEC §3): challenge,
//! verify, or refuse. Pure: the credentials, the trunk and the time go in.
//!
//! Credentials are accepted from `Authorization` or `Proxy-Authorization`, whichever the
//! trunk challenged with (carriers differ); if both are present, either may prove the
//! password. A header that does not parse counts as wrong credentials (`403`), not as
//! missing ones: a client that sends garbage should not be challenged forever.

use switchboard_dispatch::Trunk;
use switchboard_sip::digest::{self, Algorithm, Challenge, Expected, NonceKey, Verdict};

/// What to do with the INVITE.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The trunk needs no credentials, or they were right.
    Authorized,
    /// Send these challenges (first one decides 401 vs 407); `stale` ones after an expired nonce.
    Challenge(Vec<Challenge>),
    /// Wrong credentials: `403 Forbidden`. The reason is for logs and the call record.
    Forbidden(&'static str),
}

/// The algorithms offered, in challenge order: MD5 first (SIPp and most carriers stop at
/// the first challenge they understand), SHA-256 too when enabled.
pub fn algorithms(sha256: bool) -> &'static [Algorithm] {
    if sha256 {
        &[Algorithm::Md5, Algorithm::Sha256]
    } else {
        &[Algorithm::Md5]
    }
}

fn challenges(
    trunk: &Trunk,
    key: &NonceKey,
    now: u64,
    call_id: &str,
    sha256: bool,
    stale: bool,
) -> Vec<Challenge> {
    let nonce = key.issue(now, call_id);
    algorithms(sha256)
        .iter()
        .map(|&algorithm| Challenge {
            realm: trunk.realm().to_string(),
            nonce: nonce.clone(),
            algorithm,
            stale,
            proxy: trunk.auth_use_proxy_challenge,
        })
        .collect()
}

/// Checks the INVITE's credentials (`authorization`, `proxy_authorization`: raw header
/// values) for `trunk` at `now` (Unix seconds).
pub fn authorize(
    trunk: &Trunk,
    authorization: &[&str],
    call_id: &str,
    key: &NonceKey,
    now: u64,
    sha256: bool,
) -> AuthOutcome {
    if !trunk.requires_auth() {
        return AuthOutcome::Authorized;
    }
    let digests: Vec<&str> = authorization
        .iter()
        .copied()
        .filter(|v| {
            v.trim_start()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case("digest"))
        })
        .collect();
    if digests.is_empty() {
        return AuthOutcome::Challenge(challenges(trunk, key, now, call_id, sha256, false));
    }
    let expected = Expected {
        username: &trunk.auth_username,
        password: &trunk.auth_password,
        realm: trunk.realm(),
        method: "INVITE",
        call_id,
        algorithms: algorithms(sha256),
    };
    let mut why = "credentials do not parse";
    let mut stale = false;
    for value in digests {
        let creds = match digest::parse_credentials(value) {
            Ok(c) => c,
            Err(_) => continue,
        };
        // Credentials for another realm belong to some other hop; ignore them.
        if creds.realm != trunk.realm() {
            why = "credentials for another realm";
            continue;
        }
        match digest::verify(&creds, &expected, key, now) {
            Verdict::Accepted => return AuthOutcome::Authorized,
            Verdict::Stale => stale = true,
            Verdict::Rejected(r) => why = r,
        }
    }
    if stale {
        return AuthOutcome::Challenge(challenges(trunk, key, now, call_id, sha256, true));
    }
    AuthOutcome::Forbidden(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};

    fn md5_hex(s: &str) -> String {
        Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn trunk(proxy: bool) -> Trunk {
        Trunk {
            id: "ST_a".into(),
            auth_username: "alice".into(),
            auth_password: "secret".into(),
            auth_use_proxy_challenge: proxy,
            ..Default::default()
        }
    }

    fn header(nonce: &str, password: &str, uri: &str) -> String {
        let ha1 = md5_hex(&format!("alice:switchboard:{password}"));
        let ha2 = md5_hex(&format!("INVITE:{uri}"));
        let resp = md5_hex(&format!("{ha1}:{nonce}:0000000a:c0ffee:auth:{ha2}"));
        format!(
            "Digest username=\"alice\",realm=\"switchboard\",nonce=\"{nonce}\",uri=\"{uri}\",response=\"{resp}\",algorithm=MD5,qop=auth,nc=0000000a,cnonce=\"c0ffee\""
        )
    }

    #[test]
    fn open_trunk_needs_nothing() {
        let key = NonceKey::new(b"k");
        let t = Trunk::default();
        assert_eq!(
            authorize(&t, &[], "c", &key, 100, false),
            AuthOutcome::Authorized
        );
    }

    #[test]
    fn challenge_then_accept_with_uri_as_sent() {
        let key = NonceKey::new(b"k");
        for proxy in [false, true] {
            let t = trunk(proxy);
            let AuthOutcome::Challenge(ch) = authorize(&t, &[], "call-1", &key, 100, true) else {
                panic!("expected a challenge");
            };
            assert_eq!(ch.len(), 2);
            assert_eq!(ch[0].algorithm, Algorithm::Md5);
            assert_eq!(ch[0].status(), if proxy { 407 } else { 401 });
            let h = header(&ch[0].nonce, "secret", "sip:127.0.0.1:5060");
            assert_eq!(
                authorize(&t, &[&h], "call-1", &key, 110, true),
                AuthOutcome::Authorized
            );
        }
    }

    #[test]
    fn wrong_password_other_call_and_garbage_are_forbidden() {
        let key = NonceKey::new(b"k");
        let t = trunk(false);
        let nonce = key.issue(100, "call-1");
        let wrong = header(&nonce, "guess", "sip:x");
        assert!(matches!(
            authorize(&t, &[&wrong], "call-1", &key, 100, false),
            AuthOutcome::Forbidden(_)
        ));
        let replayed = header(&nonce, "secret", "sip:x");
        assert!(matches!(
            authorize(&t, &[&replayed], "call-2", &key, 100, false),
            AuthOutcome::Forbidden(_)
        ));
        assert!(matches!(
            authorize(&t, &["Digest ,,,=\"\u{0}"], "call-1", &key, 100, false),
            AuthOutcome::Forbidden(_)
        ));
    }

    #[test]
    fn expired_nonce_is_challenged_stale() {
        let key = NonceKey::new(b"k");
        let t = trunk(false);
        let nonce = key.issue(100, "call-1");
        let h = header(&nonce, "secret", "sip:x");
        let AuthOutcome::Challenge(ch) = authorize(&t, &[&h], "call-1", &key, 100 + 301, false)
        else {
            panic!("expected a stale challenge");
        };
        assert!(ch[0].stale);
        assert!(ch[0].header_value().contains("stale=true"));
    }

    #[test]
    fn non_digest_headers_are_ignored() {
        let key = NonceKey::new(b"k");
        let t = trunk(false);
        assert!(matches!(
            authorize(&t, &["Basic YWxpY2U6c2VjcmV0"], "c", &key, 1, false),
            AuthOutcome::Challenge(_)
        ));
    }
}
