//! Reading `application/x-www-form-urlencoded` bodies and query strings into an ordered
//! list of fields (repeated names allowed, e.g. one `day` per ticked checkbox).

/// The fields of a form, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// Parses `a=1&b=x+y&c=%3C`. Malformed percent escapes are kept literally; invalid
    /// UTF-8 is replaced, never refused (the form is shown back with what could be read).
    pub fn parse(body: &str) -> Fields {
        Fields(
            body.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }

    /// The first value of `name`, exactly as sent.
    pub fn raw(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        let f = Fields::parse("name=Sales+line&day=mon&day=fri&x=%3Cscript%3E&bad=%zz&end=%4");
        assert_eq!(f.get("name"), "Sales line");
        assert_eq!(f.all("day"), ["mon", "fri"]);
        assert_eq!(f.get("x"), "<script>");
        assert_eq!(f.get("bad"), "%zz");
        assert_eq!(f.get("end"), "%4");
        assert_eq!(f.get("missing"), "");
        assert_eq!(Fields::parse("a=%C3%A9").get("a"), "é");
        assert_eq!(Fields::parse("a=%FF").get("a"), "\u{fffd}");
        assert_eq!(Fields::parse("").0.len(), 0);
        assert_eq!(Fields::parse("flag").get("flag"), "");
    }
}
