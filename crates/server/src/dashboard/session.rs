//! Dashboard sessions: a signed cookie, no server-side session table.
//!
//! The cookie value is `v1.<expires_ms>.<nonce>.<subject>.<mac>`: `subject` (who logged in:
//! `key:<api key>` or `admin`) is base64url, `nonce` is 128 random bits in hex and `mac` is
//! the base64url HMAC-SHA256 of everything before it under the session key. The session key
//! is derived (SHA-256 with a fixed label) from `[dashboard] session_secret`, or, when that
//! is unset, from the API keys and the admin password, so every node sharing the
//! configuration accepts the others' cookies and changing a credential ends all sessions.
//!
//! The CSRF token of a session is the HMAC of its nonce under the same key (with another
//! label): forms carry it, and it cannot be computed without the key.
//!
//! Logging out revokes the nonce on this node until the cookie would have expired anyway.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The cookie's name.
pub const COOKIE: &str = "sb_session";

/// A verified session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// `key:<api key>` or `admin`.
    pub subject: String,
    /// Unix milliseconds after which the cookie is refused.
    pub expires_ms: i64,
    pub nonce: String,
    /// The token every form of this session carries.
    pub csrf: String,
}

/// Why a cookie was refused (for tests and logs; the user is simply sent to the login page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Malformed,
    BadSignature,
    Expired,
    Revoked,
}

/// Issues and verifies session cookies.
pub struct Sessions {
    key: [u8; 32],
    ttl_ms: i64,
    revoked: Mutex<HashMap<String, i64>>,
}

/// Derives the 32-byte session key from secret material.
pub fn derive_key(material: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"switchboard dashboard session key\0");
    for m in material {
        h.update((m.len() as u64).to_le_bytes());
        h.update(m);
    }
    h.finalize().into()
}

impl Sessions {
    pub fn new(key: [u8; 32], ttl_ms: i64) -> Sessions {
        Sessions {
            key,
            ttl_ms,
            revoked: Mutex::default(),
        }
    }

    pub fn ttl_ms(&self) -> i64 {
        self.ttl_ms
    }

    fn mac(&self, label: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        m.update(label);
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    fn csrf_for(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(b"csrf\0", nonce.as_bytes()))
    }

    /// A new session for `subject`, valid from `now_ms` for the configured lifetime, and its
    /// cookie value.
    pub fn issue(&self, subject: &str, now_ms: i64) -> (Session, String) {
        let nonce = format!("{:032x}", rand::random::<u128>());
        let expires_ms = now_ms.saturating_add(self.ttl_ms);
        let unsigned = format!(
            "v1.{expires_ms}.{nonce}.{}",
            URL_SAFE_NO_PAD.encode(subject.as_bytes())
        );
        let mac = URL_SAFE_NO_PAD.encode(self.mac(b"session\0", unsigned.as_bytes()));
        let session = Session {
            subject: subject.to_string(),
            expires_ms,
            csrf: self.csrf_for(&nonce),
            nonce,
        };
        (session, format!("{unsigned}.{mac}"))
    }

    /// Checks a cookie value's signature, expiry and revocation.
    pub fn verify(&self, value: &str, now_ms: i64) -> Result<Session, Refused> {
        let (unsigned, mac) = value.rsplit_once('.').ok_or(Refused::Malformed)?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| Refused::Malformed)?;
        let expected = self.mac(b"session\0", unsigned.as_bytes());
        if !bool::from(expected.ct_eq(&mac)) {
            return Err(Refused::BadSignature);
        }
        let mut parts = unsigned.split('.');
        let (Some("v1"), Some(expires), Some(nonce), Some(subject), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Refused::Malformed);
        };
        let expires_ms: i64 = expires.parse().map_err(|_| Refused::Malformed)?;
        let subject = URL_SAFE_NO_PAD
            .decode(subject)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(Refused::Malformed)?;
        if now_ms >= expires_ms {
            return Err(Refused::Expired);
        }
        if self.lock().contains_key(nonce) {
            return Err(Refused::Revoked);
        }
        Ok(Session {
            subject,
            expires_ms,
            csrf: self.csrf_for(nonce),
            nonce: nonce.to_string(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.revoked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends a session on this node (logout). Expired revocations are dropped on the way.
    pub fn revoke(&self, session: &Session, now_ms: i64) {
        let mut revoked = self.lock();
        revoked.retain(|_, expires| *expires > now_ms);
        revoked.insert(session.nonce.clone(), session.expires_ms);
    }

    /// Whether `token` is the CSRF token of `session` (constant time).
    pub fn csrf_ok(session: &Session, token: &str) -> bool {
        session.csrf.len() == token.len()
            && bool::from(session.csrf.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// The value of the session cookie in a request's `Cookie` headers, if any.
pub fn cookie_value(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// The `Set-Cookie` value that stores a session (`secure`: add the `Secure` attribute).
pub fn set_cookie(value: &str, max_age_s: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        Sessions::new(derive_key(&[b"secret"]), 60_000)
    }

    #[test]
    fn issued_cookie_verifies_until_expiry() {
        let s = sessions();
        let (session, cookie) = s.issue("key:devkey", 1_000);
        assert_eq!(session.expires_ms, 61_000);
        let back = s.verify(&cookie, 60_999).expect("valid");
        assert_eq!(back, session);
        assert_eq!(back.subject, "key:devkey");
        assert_eq!(s.verify(&cookie, 61_000), Err(Refused::Expired));
    }

    #[test]
    fn tampering_is_refused() {
        let s = sessions();
        let (_, cookie) = s.issue("admin", 0);
        // Extend the expiry without re-signing.
        let mut parts: Vec<&str> = cookie.split('.').collect();
        let later = "99999999999999";
        parts[1] = later;
        assert_eq!(s.verify(&parts.join("."), 10), Err(Refused::BadSignature));
        // Change the subject.
        let (_, cookie) = s.issue("admin", 0);
        let mut parts: Vec<String> = cookie.split('.').map(str::to_string).collect();
        parts[3] = URL_SAFE_NO_PAD.encode("key:other");
        assert_eq!(s.verify(&parts.join("."), 10), Err(Refused::BadSignature));
        // Flip one character of the MAC.
        let (_, cookie) = s.issue("admin", 0);
        let mut bytes = cookie.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).expect("ascii");
        assert!(s.verify(&flipped, 10).is_err());
        // Another key's cookie.
        let other = Sessions::new(derive_key(&[b"other"]), 60_000);
        let (_, foreign) = other.issue("admin", 0);
        assert_eq!(s.verify(&foreign, 10), Err(Refused::BadSignature));
        for junk in ["", ".", "v1", "v1.1.2.3.4.5", "a.b", "v1.x.y.z.!!!"] {
            assert!(s.verify(junk, 10).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn logout_revokes() {
        let s = sessions();
        let (session, cookie) = s.issue("admin", 0);
        s.revoke(&session, 10);
        assert_eq!(s.verify(&cookie, 20), Err(Refused::Revoked));
        let (_, other) = s.issue("admin", 0);
        assert!(s.verify(&other, 20).is_ok());
    }

    #[test]
    fn csrf_token_is_bound_to_the_session() {
        let s = sessions();
        let (a, _) = s.issue("admin", 0);
        let (b, _) = s.issue("admin", 0);
        assert!(Sessions::csrf_ok(&a, &a.csrf));
        assert!(!Sessions::csrf_ok(&a, &b.csrf));
        assert!(!Sessions::csrf_ok(&a, ""));
        assert!(!Sessions::csrf_ok(&a, &a.csrf[1..]));
        assert_ne!(a.csrf, b.csrf);
    }

    #[test]
    fn cookie_header_parsing() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            axum::http::HeaderValue::from_static("a=1; sb_session=v1.2.3; b=2"),
        );
        assert_eq!(cookie_value(&h), Some("v1.2.3"));
        let c = set_cookie("x", 60, false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(set_cookie("x", 60, true).ends_with("; Secure"));
    }
}
