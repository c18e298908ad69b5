//! `switchboard token create`: mint an API token (HS256 JWT) for the SIP admin API.

use std::time::Duration;

use clap::Args;
use livekit_token::{AccessToken, SIPGrants};

use super::connection::ConnectionArgs;

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub conn: ConnectionArgs,
    /// Token lifetime, e.g. 30m, 6h, 7d.
    #[arg(long, default_value = "6h", value_parser = parse_ttl)]
    pub ttl: Duration,
    /// Identity (the JWT `sub`).
    #[arg(long, default_value = "switchboard-cli")]
    pub identity: String,
    /// Leave out the sip.admin grant (for testing what the API refuses).
    #[arg(long)]
    pub no_sip_admin: bool,
}

/// Parses `90s`, `30m`, `6h`, `7d` (or plain seconds).
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; write e.g. 30m, 6h or 7d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("{s:?} has an unknown unit; use s, m, h or d")),
    };
    if secs == 0 {
        return Err("the lifetime must be more than 0".into());
    }
    Ok(Duration::from_secs(secs))
}

/// Mints a token with the given key and secret.
pub fn mint(
    key: &str,
    secret: &str,
    ttl: Duration,
    identity: &str,
    sip_admin: bool,
) -> Result<String, String> {
    AccessToken::with_api_key(key, secret)
        .with_identity(identity)
        .with_ttl(ttl)
        .with_sip_grants(SIPGrants {
            admin: sip_admin,
            call: false,
        })
        .to_jwt()
        .map_err(|e| format!("cannot mint a token: {e}"))
}

pub fn run(args: TokenCreateArgs) -> Result<(), String> {
    let conn = args.conn.resolve()?;
    let token = mint(
        &conn.api_key,
        &conn.api_secret,
        args.ttl,
        &args.identity,
        !args.no_sip_admin,
    )?;
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_parsing() {
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("7d").unwrap(), Duration::from_secs(604800));
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("x").is_err());
        assert!(parse_ttl("5y").unwrap_err().contains("unit"));
    }
}
