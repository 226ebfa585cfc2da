//! `command` and `entrypoint`: a list, or a string split like a shell would.

use super::error::Issue;
use super::value::{at, text, Node, Value};

pub(crate) const COMMAND: &str = "a list of strings such as [\"nginx\", \"-g\", \"daemon off;\"] or a string such as \"nginx -g 'daemon off;'\"";

/// Reads a command; a string is split with shell quoting rules (no
/// variables, globs or operators), as compose does.
pub(crate) fn command(node: &Node, path: &str) -> Result<Vec<String>, Issue> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| text(item, &format!("{path}[{i}]"), "a string"))
            .collect(),
        Value::Str(s) => split(s).ok_or_else(|| {
            Issue::value(
                at(node),
                path,
                s,
                "unbalanced quotes or trailing backslash",
                COMMAND,
            )
        }),
        _ => Err(Issue::new(
            at(node),
            path,
            &format!("found {}", node.value.kind()),
            COMMAND,
        )),
    }
}

/// Shell-style word splitting: quotes and backslashes, nothing else.
pub(crate) fn split(s: &str) -> Option<Vec<String>> {
    shlex::split(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse;

    fn cmd(yaml: &str) -> Result<Vec<String>, Issue> {
        let w = parse(&format!("command: {yaml}\n")).unwrap();
        command(&w.command.unwrap(), "command")
    }

    #[test]
    fn string_is_shell_split() {
        assert_eq!(
            cmd("nginx -g 'daemon off;' \"a b\" c\\ d").unwrap(),
            vec!["nginx", "-g", "daemon off;", "a b", "c d"]
        );
    }

    #[test]
    fn list_is_taken_as_is() {
        assert_eq!(
            cmd("[screen, -S, irssi, 'a b', 5]").unwrap(),
            vec!["screen", "-S", "irssi", "a b", "5"]
        );
    }

    #[test]
    fn empty_list_is_empty() {
        assert_eq!(cmd("[]").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn unbalanced_quote_is_an_error() {
        let e = cmd("\"echo 'hi\"").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 10));
        assert!(
            e.message
                .starts_with("command: \"echo 'hi\": unbalanced quotes"),
            "{}",
            e.message
        );
    }

    #[test]
    fn nested_list_is_an_error() {
        let e = cmd("[a, [b]]").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 14));
        assert_eq!(e.message, "command[1]: found a list (expected a string)");
    }

    #[test]
    fn mapping_is_an_error() {
        let e = cmd("{a: b}").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 10));
        assert!(e
            .message
            .starts_with("command: found a mapping (expected a list of strings"));
    }
}
