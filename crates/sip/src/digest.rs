//! Server-side digest authentication of INVITEs (SPEC §3).
//!
//! When the matched trunk has credentials, the INVITE is challenged with `401` +
//! `WWW-Authenticate` (or, per trunk, `407` + `Proxy-Authenticate`) carrying `qop="auth"`,
//! the realm and a nonce; the caller retries with `Authorization` (or
//! `Proxy-Authorization` — both are accepted whichever was challenged) and we verify the
//! response.
//!
//! **Nonces are stateless**: `hex(issued_at) ‖ hex(HMAC-SHA256(key, issued_at ‖ call_id))`,
//! truncated to 128 bits. Any node holding the key can check one without shared state; a
//! nonce is bound to the call (the retry of an INVITE keeps its Call-ID) and expires after
//! [`NONCE_LIFETIME_SECS`], after which the answer is a fresh challenge with `stale=true`
//! rather than a rejection. Because nothing is stored, the `nc` counter is parsed (as hex,
//! as RFC 7616 says) and hashed but not tracked: replay within the nonce's lifetime and
//! call is possible, which for an INVITE only re-offers the same call.
//!
//! The response is computed over the `uri=` parameter exactly as the client sent it (not a
//! re-rendered Request-URI: clients hash their own spelling) and compared in constant
//! time. Parsing is tolerant of whitespace, quoting and parameter order, and never panics
//! on hostile input.

use std::fmt;

use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How long a nonce is accepted.
pub const NONCE_LIFETIME_SECS: u64 = 300;

/// Longest header value accepted for parsing (hostile input bound).
const MAX_HEADER_LEN: usize = 4096;

/// A digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// What carriers use; the default.
    Md5,
    /// RFC 8760.
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm=` value (case-insensitive); absent means MD5.
    pub fn parse(s: Option<&str>) -> Option<Algorithm> {
        match s {
            None => Some(Algorithm::Md5),
            Some(v) if v.eq_ignore_ascii_case("MD5") => Some(Algorithm::Md5),
            Some(v) if v.eq_ignore_ascii_case("SHA-256") => Some(Algorithm::Sha256),
            Some(_) => None,
        }
    }

    /// Lower-case hex of the hash of `parts` joined by `:`.
    fn hash(self, parts: &[&str]) -> String {
        fn hex(bytes: &[u8]) -> String {
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
        match self {
            Algorithm::Md5 => {
                let mut h = Md5::new();
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        h.update(b":");
                    }
                    h.update(p.as_bytes());
                }
                hex(&h.finalize())
            }
            Algorithm::Sha256 => {
                let mut h = Sha256::new();
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        h.update(b":");
                    }
                    h.update(p.as_bytes());
                }
                hex(&h.finalize())
            }
        }
    }
}

/// Issues and checks stateless nonces with a server secret.
#[derive(Clone)]
pub struct NonceKey {
    key: Vec<u8>,
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

/// What a presented nonce is worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceStatus {
    Valid,
    /// Ours, for this call, but older than [`NONCE_LIFETIME_SECS`] (or from the future).
    Stale,
    /// Not issued by this key for this call.
    Invalid,
}

impl NonceKey {
    /// `secret` should be at least 32 random bytes, shared by every node.
    pub fn new(secret: &[u8]) -> NonceKey {
        NonceKey {
            key: secret.to_vec(),
        }
    }

    fn mac(&self, issued_at: u64, call_id: &str) -> [u8; 16] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(&issued_at.to_be_bytes());
        mac.update(call_id.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// A nonce for this call, issued at `now` (Unix seconds).
    pub fn issue(&self, now: u64, call_id: &str) -> String {
        let mut s = format!("{now:016x}");
        for b in self.mac(now, call_id) {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Checks a nonce presented at `now` for this call.
    pub fn check(&self, nonce: &str, now: u64, call_id: &str) -> NonceStatus {
        if nonce.len() != 48 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return NonceStatus::Invalid;
        }
        let Ok(issued_at) = u64::from_str_radix(&nonce[..16], 16) else {
            return NonceStatus::Invalid;
        };
        let mut presented = [0u8; 16];
        for (i, out) in presented.iter_mut().enumerate() {
            match u8::from_str_radix(&nonce[16 + 2 * i..18 + 2 * i], 16) {
                Ok(b) => *out = b,
                Err(_) => return NonceStatus::Invalid,
            }
        }
        if !bool::from(presented.ct_eq(&self.mac(issued_at, call_id))) {
            return NonceStatus::Invalid;
        }
        if issued_at > now || now - issued_at > NONCE_LIFETIME_SECS {
            return NonceStatus::Stale;
        }
        NonceStatus::Valid
    }
}

/// A challenge to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub algorithm: Algorithm,
    pub stale: bool,
    /// `407` + `Proxy-Authenticate` instead of `401` + `WWW-Authenticate`.
    pub proxy: bool,
}

impl Challenge {
    pub fn status(&self) -> u16 {
        if self.proxy { 407 } else { 401 }
    }

    pub fn header_name(&self) -> &'static str {
        if self.proxy {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        }
    }

    /// The header value, e.g. `Digest realm="switchboard", nonce="…", algorithm=MD5, qop="auth"`.
    pub fn header_value(&self) -> String {
        let mut v = format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
            escape(&self.realm),
            self.nonce,
            self.algorithm.name()
        );
        if self.stale {
            v.push_str(", stale=true");
        }
        v
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Why credentials could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub &'static str);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ParseError {}

/// The parameters of an `Authorization` / `Proxy-Authorization: Digest …` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    /// Exactly as sent: the response is computed over this spelling.
    pub uri: String,
    pub response: String,
    pub algorithm: Option<String>,
    pub cnonce: Option<String>,
    pub qop: Option<String>,
    /// The raw `nc` value (8 hex digits); it is hashed as sent.
    pub nc: Option<String>,
    pub opaque: Option<String>,
}

/// Splits `Digest k=v, k="v", …` into (lower-cased key, value) pairs.
fn params(input: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    let b = input.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b'\r' || b[*i] == b'\n')
        {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        while i < b.len() && b[i] == b',' {
            i += 1;
            skip_ws(&mut i);
        }
        if i >= b.len() {
            return Ok(out);
        }
        let key_start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = input[key_start..i].to_ascii_lowercase();
        if key.is_empty() {
            return Err(ParseError("a parameter has no name"));
        }
        skip_ws(&mut i);
        if i >= b.len() || b[i] != b'=' {
            return Err(ParseError("a parameter has no value"));
        }
        i += 1;
        skip_ws(&mut i);
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            loop {
                match b.get(i) {
                    None => return Err(ParseError("a quoted value is not closed")),
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let next = input[i + 1..]
                            .chars()
                            .next()
                            .ok_or(ParseError("a quoted value ends in a backslash"))?;
                        v.push(next);
                        i += 1 + next.len_utf8();
                    }
                    Some(_) => {
                        let c = input[i..].chars().next().ok_or(ParseError("bad text"))?;
                        v.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            v
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            input[start..i].to_string()
        };
        out.push((key, value));
    }
}

/// Parses a `Digest …` credentials header value.
pub fn parse_credentials(value: &str) -> Result<Credentials, ParseError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(ParseError("the credentials are too long"));
    }
    let value = value.trim();
    let scheme_end = value
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(value.len());
    if !value[..scheme_end].eq_ignore_ascii_case("Digest") {
        return Err(ParseError("the authorization scheme is not Digest"));
    }
    let mut c = Credentials::default();
    let mut seen_response = false;
    for (k, v) in params(&value[scheme_end..])? {
        match k.as_str() {
            "username" => c.username = v,
            "realm" => c.realm = v,
            "nonce" => c.nonce = v,
            "uri" => c.uri = v,
            "response" => {
                c.response = v;
                seen_response = true;
            }
            "algorithm" => c.algorithm = Some(v),
            "cnonce" => c.cnonce = Some(v),
            "qop" => c.qop = Some(v),
            "nc" => c.nc = Some(v),
            "opaque" => c.opaque = Some(v),
            _ => {}
        }
    }
    if c.username.is_empty() || c.nonce.is_empty() || c.uri.is_empty() || !seen_response {
        return Err(ParseError("username, nonce, uri and response are required"));
    }
    Ok(c)
}

/// The outcome of checking credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The caller proved knowledge of the password.
    Accepted,
    /// A valid but expired nonce: challenge again with `stale=true`.
    Stale,
    /// Wrong credentials: `403 Forbidden`. The reason is for logs, never for the caller.
    Rejected(&'static str),
}

/// What the server expects of the credentials.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub realm: &'a str,
    /// The SIP method of the request (`INVITE`).
    pub method: &'a str,
    /// The request's Call-ID, which the nonce is bound to.
    pub call_id: &'a str,
    /// Algorithms this server offers.
    pub algorithms: &'a [Algorithm],
}

/// The response a client knowing `password` sends with these credentials (lower-case hex);
/// also what a client (`switchboard call`) computes to answer a challenge.
pub fn expected_response(
    algorithm: Algorithm,
    c: &Credentials,
    method: &str,
    realm: &str,
    password: &str,
) -> Result<String, &'static str> {
    let ha1 = algorithm.hash(&[&c.username, realm, password]);
    let ha2 = algorithm.hash(&[method, &c.uri]);
    match c.qop.as_deref() {
        Some(q) if q.eq_ignore_ascii_case("auth") => {
            let (Some(nc), Some(cnonce)) = (c.nc.as_deref(), c.cnonce.as_deref()) else {
                return Err("qop=auth without nc and cnonce");
            };
            if nc.len() != 8 || u32::from_str_radix(nc, 16).is_err() {
                return Err("nc is not 8 hex digits");
            }
            Ok(algorithm.hash(&[&ha1, &c.nonce, nc, cnonce, q, &ha2]))
        }
        Some(_) => Err("unsupported qop"),
        // RFC 2069 clients that ignore qop.
        None => Ok(algorithm.hash(&[&ha1, &c.nonce, &ha2])),
    }
}

/// Verifies credentials at `now` (Unix seconds).
pub fn verify(c: &Credentials, expected: &Expected<'_>, key: &NonceKey, now: u64) -> Verdict {
    let Some(algorithm) = Algorithm::parse(c.algorithm.as_deref()) else {
        return Verdict::Rejected("unsupported algorithm");
    };
    if !expected.algorithms.contains(&algorithm) {
        return Verdict::Rejected("algorithm not offered");
    }
    if c.realm != expected.realm {
        return Verdict::Rejected("wrong realm");
    }
    match key.check(&c.nonce, now, expected.call_id) {
        NonceStatus::Invalid => return Verdict::Rejected("nonce not issued for this call"),
        NonceStatus::Stale => return Verdict::Stale,
        NonceStatus::Valid => {}
    }
    let want = match expected_response(
        algorithm,
        c,
        expected.method,
        expected.realm,
        expected.password,
    ) {
        Ok(w) => w,
        Err(why) => return Verdict::Rejected(why),
    };
    let user_ok = c.username.as_bytes().ct_eq(expected.username.as_bytes());
    let response = c.response.to_ascii_lowercase();
    let response_ok = response.as_bytes().ct_eq(want.as_bytes());
    if bool::from(user_ok & response_ok) {
        Verdict::Accepted
    } else {
        Verdict::Rejected("wrong username or password")
    }
}

#[cfg(test)]
mod tests;
