//! Where a client command finds the server: `--url/--api-key/--api-secret`, else the
//! environment (`LIVEKIT_URL`, `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET`), else a `.env` file
//! in the current directory.

use std::collections::BTreeMap;

use clap::Args;

/// Connection flags shared by every client command.
#[derive(Clone, Debug, Default, Args)]
pub struct ConnectionArgs {
    /// Server URL, e.g. http://127.0.0.1:7880 [env: LIVEKIT_URL]
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// API key [env: LIVEKIT_API_KEY]
    #[arg(long, global = true)]
    pub api_key: Option<String>,
    /// API secret [env: LIVEKIT_API_SECRET]
    #[arg(long, global = true)]
    pub api_secret: Option<String>,
}

/// Resolved connection settings.
#[derive(Clone, Debug)]
pub struct Connection {
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
}

/// Reads `KEY=value` lines of a `.env` file (quotes stripped, comments ignored).
pub fn parse_dotenv(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

impl ConnectionArgs {
    /// Flags, then environment, then `.env`; the error says what is missing and how to set it.
    pub fn resolve(&self) -> Result<Connection, String> {
        let dotenv = std::fs::read_to_string(".env")
            .map(|t| parse_dotenv(&t))
            .unwrap_or_default();
        let pick = |flag: &Option<String>, var: &str| {
            flag.clone()
                .or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
                .or_else(|| dotenv.get(var).cloned())
        };
        let url =
            pick(&self.url, "LIVEKIT_URL").unwrap_or_else(|| "http://127.0.0.1:7880".to_string());
        let api_key = pick(&self.api_key, "LIVEKIT_API_KEY").ok_or(
            "no API key: pass --api-key, or set LIVEKIT_API_KEY (in the environment or a .env file); `switchboard serve --dev` uses devkey",
        )?;
        let api_secret = pick(&self.api_secret, "LIVEKIT_API_SECRET").ok_or(
            "no API secret: pass --api-secret, or set LIVEKIT_API_SECRET (in the environment or a .env file); `switchboard serve --dev` uses secret",
        )?;
        // LiveKit URLs are often given as ws(s)://; the API is the same host over http(s).
        let url = if let Some(rest) = url.strip_prefix("ws://") {
            format!("http://{rest}")
        } else if let Some(rest) = url.strip_prefix("wss://") {
            format!("https://{rest}")
        } else {
            url
        };
        Ok(Connection {
            url: url.trim_end_matches('/').to_string(),
            api_key,
            api_secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines() {
        let m = parse_dotenv(
            "# c\nLIVEKIT_URL=\"http://x\"\nexport LIVEKIT_API_KEY='k'\n\nBAD\nLIVEKIT_API_SECRET = s \n",
        );
        assert_eq!(m["LIVEKIT_URL"], "http://x");
        assert_eq!(m["LIVEKIT_API_KEY"], "k");
        assert_eq!(m["LIVEKIT_API_SECRET"], "s");
        assert_eq!(m.len(), 3);
    }
}
