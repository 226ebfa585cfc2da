//! Shell-style pattern matching for `modules.alias`, with the semantics of
//! `fnmatch(pattern, modalias, 0)` that kmod and udev use: `*`, `?`, and
//! bracket classes `[a-z]`, `[!x]`/`[^x]`; `\` escapes the next character.
//!
//! Written here rather than taken from a glob crate because path-glob crates
//! give `/` and `**` meanings that fnmatch without flags does not have.

/// Whether `text` matches `pattern` as `fnmatch(3)` with no flags would say.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where to resume after the most recent `*`: (pattern index after it, text index).
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi + 1, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_class(&p, pi, t[ti]) {
                        if matched {
                            pi = next;
                            ti += 1;
                            continue;
                        }
                    } else if t[ti] == '[' {
                        // An unterminated `[` is a literal.
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == t[ti] {
                        pi += 2;
                        ti += 1;
                        continue;
                    }
                }
                c => {
                    if c == t[ti] {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: let the last `*` swallow one more character, or fail.
        match star {
            Some((sp, st)) => {
                pi = sp;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`.
/// Returns `(matched, index after the class)`, or `None` if the class is not closed.
fn match_class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&hi| hi != ']') {
            let hi = p[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
}

/// The literal text before the first special character: a cheap filter
/// before running the matcher over thousands of aliases.
pub fn literal_prefix(pattern: &str) -> &str {
    let end = pattern.find(['*', '?', '[', '\\']).unwrap_or(pattern.len());
    &pattern[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_questions() {
        assert!(fnmatch(
            "pci:v00001AF4d*sv*sd*bc*sc*i*",
            "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"
        ));
        assert!(!fnmatch(
            "pci:v00001AF4d*sv*sd*bc*sc*i*",
            "pci:v00008086d00001000sv00001AF4sd00000001bc02sc00i00"
        ));
        assert!(fnmatch("virtio:d00000002v*", "virtio:d00000002v00001AF4"));
        assert!(!fnmatch("virtio:d00000002v*", "virtio:d00000001v00001AF4"));
        assert!(fnmatch("a?c", "abc"));
        assert!(!fnmatch("a?c", "ac"));
        assert!(fnmatch("*", ""));
        assert!(fnmatch("a*b*c", "axxbyyc"));
        assert!(!fnmatch("a*b*c", "axxbyy"));
        assert!(fnmatch("a/*", "a/b/c"), "no path semantics");
    }

    #[test]
    fn classes() {
        assert!(fnmatch("acpi*:PNP0[Aa]0[3-8]:*", "acpi:PNP0A03:"));
        assert!(fnmatch("acpi*:PNP0[Aa]0[3-8]:*", "acpi:PNP0a08:PNP0A03:"));
        assert!(!fnmatch("acpi*:PNP0[Aa]0[3-8]:*", "acpi:PNP0A09:"));
        assert!(fnmatch("x[!0-9]", "xa"));
        assert!(!fnmatch("x[^0-9]", "x5"));
        assert!(fnmatch("x[]]", "x]"));
        assert!(fnmatch("x[", "x["), "unterminated class is literal");
        assert!(fnmatch("a\\*", "a*"));
        assert!(!fnmatch("a\\*", "ab"));
    }

    #[test]
    fn prefix() {
        assert_eq!(literal_prefix("pci:v00001AF4d*sv*"), "pci:v00001AF4d");
        assert_eq!(literal_prefix("fs-squashfs"), "fs-squashfs");
        assert_eq!(literal_prefix("*x"), "");
    }
}
