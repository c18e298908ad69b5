//! LiveKit's `ListUpdate{set, add, remove, clear}` and partial-update semantics.

use livekit_protocol as lk;

use super::error::ApiError;

/// Applies a list update to `list` (LiveKit's rules: clear ⇒ empty; set ⇒ exactly that
/// list; otherwise remove the first occurrence of each value, then append values not yet
/// present). `field` names the list in errors.
pub fn apply(field: &str, list: &mut Vec<String>, u: &lk::ListUpdate) -> Result<(), ApiError> {
    let changes = !u.add.is_empty() || !u.remove.is_empty();
    if !u.clear && u.set.is_empty() && !changes {
        return Err(ApiError::invalid(format!(
            "{field}: unsupported list update operation; give set, add, remove or clear"
        )));
    }
    if u.clear && (changes || !u.set.is_empty()) {
        return Err(ApiError::invalid(format!(
            "{field}: cannot clear and change the list at the same time"
        )));
    }
    if !u.set.is_empty() && changes {
        return Err(ApiError::invalid(format!(
            "{field}: cannot set and change the list at the same time; use set alone, or add/remove"
        )));
    }
    if u.set
        .iter()
        .chain(&u.add)
        .chain(&u.remove)
        .any(String::is_empty)
    {
        return Err(ApiError::invalid(format!(
            "{field}: empty element in the list"
        )));
    }
    if u.clear {
        list.clear();
    } else if !u.set.is_empty() {
        *list = u.set.clone();
    } else {
        for r in &u.remove {
            if let Some(i) = list.iter().position(|x| x == r) {
                list.remove(i);
            }
        }
        for a in &u.add {
            if !list.contains(a) {
                list.push(a.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(set: &[&str], add: &[&str], remove: &[&str], clear: bool) -> lk::ListUpdate {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        lk::ListUpdate {
            set: v(set),
            add: v(add),
            remove: v(remove),
            clear,
        }
    }

    #[test]
    fn table() {
        let base = || vec!["a".to_string(), "b".to_string()];
        let ok = [
            (u(&[], &["c"], &[], false), vec!["a", "b", "c"]),
            (u(&[], &["a"], &[], false), vec!["a", "b"]),
            (u(&[], &["c"], &["a"], false), vec!["b", "c"]),
            (u(&[], &[], &["x"], false), vec!["a", "b"]),
            (u(&["z"], &[], &[], false), vec!["z"]),
            (u(&[], &[], &[], true), vec![]),
        ];
        for (upd, want) in ok {
            let mut l = base();
            apply("numbers", &mut l, &upd).unwrap();
            assert_eq!(l, want, "{upd:?}");
        }
        for bad in [
            u(&[], &[], &[], false),
            u(&["a"], &["b"], &[], false),
            u(&[], &["b"], &[], true),
            u(&[], &[""], &[], false),
        ] {
            let mut l = base();
            let e = apply("numbers", &mut l, &bad).unwrap_err();
            assert!(e.msg.starts_with("numbers:"), "{}", e.msg);
            assert_eq!(l, base(), "unchanged on error");
        }
    }
}
