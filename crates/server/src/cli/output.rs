//! How client commands print: aligned tables whose cells are flattened to one line and
//! truncated (so long JSON metadata never wraps a row), `key: value` detail blocks, and
//! pretty JSON for `--json`.

use serde::Serialize;

/// A column: its header and the widest its cells may be (0 = never truncated).
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub header: &'static str,
    pub max: usize,
}

/// A column that is never truncated (ids).
pub const fn full(header: &'static str) -> Column {
    Column { header, max: 0 }
}

/// A column truncated to `max` characters.
pub const fn col(header: &'static str, max: usize) -> Column {
    Column { header, max }
}

/// A plain-text table with aligned columns.
#[derive(Debug)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[Column]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are ignored.
    pub fn row(&mut self, cells: Vec<String>) {
        let row = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| cell(cells.get(i).map_or("", String::as_str), c.max))
            .collect();
        self.rows.push(row);
    }

    /// The table as text, one line per row after the header, no trailing spaces.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([c.header.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    s.push_str("  ");
                }
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count()));
                }
            }
            s.trim_end().to_string()
        };
        let mut out = line(self.columns.iter().map(|c| c.header).collect());
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r.iter().map(String::as_str).collect()));
            out.push('\n');
        }
        out
    }
}

/// One line of at most `max` characters (0 = unlimited): control characters and runs of
/// whitespace become one space; a cut is marked with `…`.
pub fn cell(text: &str, max: usize) -> String {
    let mut flat = String::with_capacity(text.len());
    let mut space = false;
    for ch in text.chars() {
        if ch.is_whitespace() || ch.is_control() {
            space = true;
        } else {
            if space && !flat.is_empty() {
                flat.push(' ');
            }
            space = false;
            flat.push(ch);
        }
    }
    if max == 0 || flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `key: value` lines with the values aligned; empty values are left out.
pub fn details(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        let pad = width - k.chars().count();
        out.push_str(&format!("{k}:{} {v}\n", " ".repeat(pad)));
    }
    out
}

/// Prints a value as pretty JSON on stdout.
/// What `create` and `update` print: the object with `--json`, else `LABEL: id` as `lk` does.
pub fn print_saved<T: Serialize>(
    json: bool,
    value: &T,
    label: &str,
    id: &str,
) -> Result<(), String> {
    if json {
        return print_json(value);
    }
    println!("{label}: {id}");
    Ok(())
}

/// Deletes each id in turn with `delete_one`, printing `describe` of each deleted object
/// (or, with `--json`, the deleted object, or the list of them when there were several).
pub async fn delete_each<T: Serialize>(
    ids: Vec<String>,
    json: bool,
    mut delete_one: impl AsyncFnMut(String) -> Result<T, String>,
    describe: impl Fn(&T) -> String,
) -> Result<(), String> {
    let mut deleted = Vec::new();
    for id in ids {
        let info = delete_one(id).await?;
        if !json {
            println!("{}", describe(&info));
        }
        deleted.push(info);
    }
    if json {
        return match deleted.as_slice() {
            [one] => print_json(one),
            many => print_json(many),
        };
    }
    Ok(())
}

pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| format!("cannot print the answer as JSON: {e}"))?;
    println!("{text}");
    Ok(())
}

/// Pretty-prints a JSON text without reordering its fields (two-space indent, as
/// `serde_json::to_string_pretty`). The input must be valid JSON.
pub fn pretty_raw(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = json.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// A list for a cell: `a,b`, or `fallback` when empty.
pub fn join_or(items: &[String], fallback: &str) -> String {
    if items.is_empty() {
        fallback.to_string()
    } else {
        items.join(",")
    }
}

/// A map for a cell: `k=v,k2=v2` in key order.
pub fn map_cell(m: &std::collections::HashMap<String, String>) -> String {
    let mut pairs: Vec<_> = m.iter().collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_flattened_and_cut() {
        assert_eq!(cell("a\n  b\tc", 0), "a b c");
        assert_eq!(cell("  lead", 0), "lead");
        assert_eq!(cell("abcdefgh", 5), "abcd…");
        assert_eq!(cell("abcde", 5), "abcde");
        assert_eq!(cell("ééééééé", 3), "éé…");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&[full("ID"), col("NAME", 6), full("X")]);
        t.row(vec!["ST_1".into(), "a very long name".into(), "1".into()]);
        t.row(vec!["ST_22".into(), "b".into()]);
        assert_eq!(t.render(), "ID     NAME    X\nST_1   a ver…  1\nST_22  b\n");
    }

    #[test]
    fn raw_json_is_indented_in_its_own_order() {
        let raw = r#"{"b":[1,{"x":"a,b:{c}\"q"}],"a":{},"c":[],"d":null}"#;
        let want = "{\n  \"b\": [\n    1,\n    {\n      \"x\": \"a,b:{c}\\\"q\"\n    }\n  ],\n  \"a\": {},\n  \"c\": [],\n  \"d\": null\n}";
        assert_eq!(pretty_raw(raw), want);
        let v: serde_json::Value = serde_json::from_str(raw).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&pretty_raw(raw)).unwrap(),
            v
        );
    }

    #[test]
    fn details_skip_empty_values() {
        let d = details(&[
            ("id", "ST_1".into()),
            ("name", String::new()),
            ("numbers", "+1".into()),
        ]);
        assert_eq!(d, "id:      ST_1\nnumbers: +1\n");
    }
}
