//! `user: uid[:gid]` or `name[:group]`.

use super::error::Issue;
use super::types::{IdOrName, UserSpec};
use super::value::{at, wrong_kind, Node, Value};

pub(crate) const USER: &str =
    "\"UID[:GID]\" or \"NAME[:GROUP]\", such as \"1000:1000\" or \"www-data\"";

pub(crate) fn user(node: &Node, path: &str) -> Result<UserSpec, Issue> {
    let s = match &node.value {
        Value::Int(i) => i.to_string(),
        Value::Str(s) => s.clone(),
        _ => return Err(wrong_kind(node, path, USER)),
    };
    let bad = |problem: &str| Issue::value(at(node), path, &s, problem, USER);
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s.as_str(), None),
    };
    let user = id_or_name(user).map_err(|p| bad(&format!("user {p}")))?;
    let group = group
        .map(id_or_name)
        .transpose()
        .map_err(|p| bad(&format!("group {p}")))?;
    Ok(UserSpec { user, group })
}

fn id_or_name(s: &str) -> Result<IdOrName, &'static str> {
    if s.is_empty() {
        return Err("is empty");
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<u32>() {
            Ok(id) if id != u32::MAX => Ok(IdOrName::Id(id)),
            _ => Err("id must be 0-4294967294"),
        };
    }
    if s.contains(':') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("name must not contain ':', spaces or control characters");
    }
    Ok(IdOrName::Name(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse;

    fn u(yaml: &str) -> Result<UserSpec, Issue> {
        let w = parse(&format!("user: {yaml}\n")).unwrap();
        user(&w.user.unwrap(), "user")
    }

    #[test]
    fn forms() {
        assert_eq!(
            u("1000").unwrap(),
            UserSpec {
                user: IdOrName::Id(1000),
                group: None
            }
        );
        assert_eq!(
            u("'1000:100'").unwrap(),
            UserSpec {
                user: IdOrName::Id(1000),
                group: Some(IdOrName::Id(100))
            }
        );
        assert_eq!(
            u("www-data").unwrap(),
            UserSpec {
                user: IdOrName::Name("www-data".into()),
                group: None
            }
        );
        assert_eq!(
            u("nobody:nogroup").unwrap(),
            UserSpec {
                user: IdOrName::Name("nobody".into()),
                group: Some(IdOrName::Name("nogroup".into()))
            }
        );
        assert_eq!(
            u("'0:staff'").unwrap(),
            UserSpec {
                user: IdOrName::Id(0),
                group: Some(IdOrName::Name("staff".into()))
            }
        );
    }

    #[test]
    fn errors() {
        let e = u("'1000:'").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 7));
        assert!(
            e.message
                .starts_with("user: \"1000:\": group is empty (expected"),
            "{}",
            e.message
        );
        let e = u("'99999999999'").unwrap_err();
        assert!(
            e.message.contains("user id must be 0-4294967294"),
            "{}",
            e.message
        );
        let e = u("'a:b:c'").unwrap_err();
        assert!(
            e.message.contains("group name must not contain ':'"),
            "{}",
            e.message
        );
        let e = u("[a]").unwrap_err();
        assert!(e.message.starts_with("user: found a list"), "{}", e.message);
    }
}
