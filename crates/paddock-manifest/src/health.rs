//! `healthcheck` and `depends_on`: when a container counts as ready.

use std::time::Duration;

use serde_saphyr::Spanned;

use super::error::{Issue, Pos};
use super::types::{Dependency, DependencyCondition, Healthcheck, HealthcheckTest};
use super::units::{duration, DURATION};
use super::value::{at, boolean, integer, text, wrong_kind, Fields, Node, Value};
use super::wire::WireHealthcheck;

pub(crate) const TEST: &str =
    "[\"CMD\", ARGS…], [\"CMD-SHELL\", \"COMMAND\"], \"COMMAND\" or [\"NONE\"]";
pub(crate) const DEPENDS_ON: &str =
    "a list of container names, or a mapping such as {db: {condition: service_healthy}}";
const CONDITION: &str = "service_started, service_healthy or service_completed_successfully";

pub(crate) fn healthcheck(
    wire: &Spanned<WireHealthcheck>,
    path: &str,
) -> Result<Healthcheck, Issue> {
    let h = &wire.value;
    let p = |k: &str| format!("{path}.{k}");
    let mut test = h.test.as_ref().map(|n| test(n, &p("test"))).transpose()?;
    if let Some(n) = &h.disable {
        if boolean(n, &p("disable"))? {
            if matches!(
                test,
                Some(HealthcheckTest::Cmd(_) | HealthcheckTest::CmdShell(_))
            ) {
                return Err(Issue::new(
                    at(n),
                    &p("disable"),
                    "conflicts with test",
                    "either a test or disable: true",
                ));
            }
            test = Some(HealthcheckTest::Disabled);
        }
    }
    let positive = |node: &Option<Node>, key: &str, default: Duration| -> Result<Duration, Issue> {
        let Some(n) = node else { return Ok(default) };
        let d = duration(n, &p(key))?;
        if d < Duration::from_millis(1) {
            let shown = n.value.scalar_text().unwrap_or_default();
            return Err(Issue::value(
                at(n),
                &p(key),
                &shown,
                "must be at least 1ms",
                DURATION,
            ));
        }
        Ok(d)
    };
    let interval = positive(&h.interval, "interval", Duration::from_secs(30))?;
    let timeout = positive(&h.timeout, "timeout", Duration::from_secs(30))?;
    let start_period = match &h.start_period {
        Some(n) => duration(n, &p("start_period"))?,
        None => Duration::ZERO,
    };
    let retries = match &h.retries {
        Some(n) => {
            let r = integer(n, &p("retries"), "a number ≥ 1")?;
            u32::try_from(r).ok().filter(|r| *r >= 1).ok_or_else(|| {
                Issue::value(
                    at(n),
                    &p("retries"),
                    &r.to_string(),
                    "must be at least 1",
                    "a number ≥ 1",
                )
            })?
        }
        None => 3,
    };
    let restart_on_unhealthy = match &h.restart_on_unhealthy {
        Some(n) => boolean(n, &p("restart_on_unhealthy"))?,
        None => true,
    };
    Ok(Healthcheck {
        test,
        interval,
        timeout,
        retries,
        start_period,
        restart_on_unhealthy,
    })
}

fn test(node: &Node, path: &str) -> Result<HealthcheckTest, Issue> {
    match &node.value {
        Value::Str(s) if s.trim().is_empty() => Err(Issue::new(at(node), path, "is empty", TEST)),
        Value::Str(s) => Ok(HealthcheckTest::CmdShell(s.clone())),
        Value::Seq(items) => {
            let words = items
                .iter()
                .enumerate()
                .map(|(i, n)| text(n, &format!("{path}[{i}]"), "a string"))
                .collect::<Result<Vec<_>, _>>()?;
            let bad = |problem: &str| Issue::new(at(node), path, problem, TEST);
            match words.split_first() {
                Some((kind, args)) if kind == "CMD" => {
                    if args.is_empty() {
                        return Err(bad("CMD needs a command"));
                    }
                    Ok(HealthcheckTest::Cmd(args.to_vec()))
                }
                Some((kind, args)) if kind == "CMD-SHELL" => {
                    if args.is_empty() || args.iter().all(|a| a.trim().is_empty()) {
                        return Err(bad("CMD-SHELL needs a command"));
                    }
                    Ok(HealthcheckTest::CmdShell(args.join(" ")))
                }
                Some((kind, args)) if kind == "NONE" => {
                    if !args.is_empty() {
                        return Err(bad("NONE takes no arguments"));
                    }
                    Ok(HealthcheckTest::Disabled)
                }
                Some((kind, _)) => Err(bad(&format!(
                    "must start with CMD, CMD-SHELL or NONE, not {kind:?}"
                ))),
                None => Err(bad("is empty")),
            }
        }
        _ => Err(wrong_kind(node, path, TEST)),
    }
}

/// `depends_on`, each entry with the position of its name.
pub(crate) fn depends_on(node: &Node, path: &str) -> Result<Vec<(Dependency, Pos)>, Issue> {
    let mut out: Vec<(Dependency, Pos)> = Vec::new();
    let mut push = |name: String, loc: Pos, p: &str, condition| {
        if !super::validate::is_valid_name(&name) {
            return Err(Issue::value(
                loc,
                p,
                &name,
                "not a valid container name",
                DEPENDS_ON,
            ));
        }
        if out.iter().any(|(d, _)| d.name == name) {
            return Err(Issue::value(
                loc,
                p,
                &name,
                "listed twice",
                "each dependency once",
            ));
        }
        out.push((Dependency { name, condition }, loc));
        Ok(())
    };
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let name = text(item, &p, "a container name")?;
                push(name, at(item), &p, DependencyCondition::ServiceStarted)?;
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries {
                let p = format!("{path}.{}", key.value);
                let condition = match &value.value {
                    Value::Null => DependencyCondition::ServiceStarted,
                    _ => {
                        let f = Fields::new(
                            value,
                            &p,
                            &["condition"],
                            &format!("{{condition: {CONDITION}}}"),
                        )?;
                        match f.get("condition") {
                            None => DependencyCondition::ServiceStarted,
                            Some(n) => {
                                let s = text(n, &f.path("condition"), CONDITION)?;
                                match s.as_str() {
                                    "service_started" => DependencyCondition::ServiceStarted,
                                    "service_healthy" => DependencyCondition::ServiceHealthy,
                                    "service_completed_successfully" => {
                                        DependencyCondition::ServiceCompletedSuccessfully
                                    }
                                    _ => {
                                        return Err(Issue::value(
                                            at(n),
                                            &f.path("condition"),
                                            &s,
                                            "unknown condition",
                                            CONDITION,
                                        ))
                                    }
                                }
                            }
                        }
                    }
                };
                push(key.value.clone(), Pos::from(key.referenced), &p, condition)?;
            }
        }
        _ => return Err(wrong_kind(node, path, DEPENDS_ON)),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::parse;

    fn hc(yaml: &str) -> Result<Healthcheck, Issue> {
        let w = parse(&format!("healthcheck:\n{yaml}")).unwrap();
        healthcheck(&w.healthcheck.unwrap(), "healthcheck")
    }

    #[test]
    fn defaults() {
        let h = hc("  test: [CMD, curl, -f, http://localhost]\n").unwrap();
        assert_eq!(
            h,
            Healthcheck {
                test: Some(HealthcheckTest::Cmd(vec![
                    "curl".into(),
                    "-f".into(),
                    "http://localhost".into()
                ])),
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(30),
                retries: 3,
                start_period: Duration::ZERO,
                restart_on_unhealthy: true,
            }
        );
    }

    #[test]
    fn all_fields() {
        let h = hc("  test: curl -f http://localhost || exit 1\n  interval: 1m30s\n  timeout: 10s\n  retries: 5\n  start_period: 40s\n  restart_on_unhealthy: false\n").unwrap();
        assert_eq!(
            h.test,
            Some(HealthcheckTest::CmdShell(
                "curl -f http://localhost || exit 1".into()
            ))
        );
        assert_eq!(h.interval, Duration::from_secs(90));
        assert_eq!(h.timeout, Duration::from_secs(10));
        assert_eq!(h.retries, 5);
        assert_eq!(h.start_period, Duration::from_secs(40));
        assert!(!h.restart_on_unhealthy);
    }

    #[test]
    fn test_forms() {
        assert_eq!(
            hc("  test: [CMD-SHELL, 'pg_isready -U postgres']\n")
                .unwrap()
                .test,
            Some(HealthcheckTest::CmdShell("pg_isready -U postgres".into()))
        );
        assert_eq!(
            hc("  test: [NONE]\n").unwrap().test,
            Some(HealthcheckTest::Disabled)
        );
        assert_eq!(
            hc("  disable: true\n").unwrap().test,
            Some(HealthcheckTest::Disabled)
        );
        assert_eq!(hc("  interval: 5s\n").unwrap().test, None);
    }

    fn err(yaml: &str) -> (u32, u32, String) {
        let e = hc(yaml).unwrap_err();
        (e.at.line(), e.at.column(), e.message)
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("  test: [curl, x]\n"),
            (2, 9, format!("healthcheck.test: must start with CMD, CMD-SHELL or NONE, not \"curl\" (expected {TEST})"))
        );
        assert_eq!(
            err("  test: [CMD]\n").2,
            format!("healthcheck.test: CMD needs a command (expected {TEST})")
        );
        assert_eq!(
            err("  test: [CMD, x]\n  interval: -5s\n"),
            (
                3,
                13,
                format!(
                    "healthcheck.interval: \"-5s\": must not be negative (expected {DURATION})"
                )
            )
        );
        assert_eq!(
            err("  timeout: 0s\n"),
            (
                2,
                12,
                format!("healthcheck.timeout: \"0s\": must be at least 1ms (expected {DURATION})")
            )
        );
        assert_eq!(
            err("  retries: 0\n"),
            (
                2,
                12,
                "healthcheck.retries: \"0\": must be at least 1 (expected a number ≥ 1)"
                    .to_string()
            )
        );
        assert_eq!(err("  test: [CMD, x]\n  disable: true\n").0, 3);
        assert_eq!(
            err("  test: {a: b}\n").2,
            format!("healthcheck.test: found a mapping (expected {TEST})")
        );
        assert_eq!(
            err("  test: ''\n").2,
            format!("healthcheck.test: is empty (expected {TEST})")
        );
    }

    fn deps(yaml: &str) -> Result<Vec<(Dependency, Pos)>, Issue> {
        let w = parse(&format!("depends_on: {yaml}\n")).unwrap();
        depends_on(&w.depends_on.unwrap(), "depends_on")
    }

    #[test]
    fn depends_on_forms() {
        let d: Vec<_> = deps("[db, cache]")
            .unwrap()
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(
            d,
            vec![
                Dependency {
                    name: "db".into(),
                    condition: DependencyCondition::ServiceStarted
                },
                Dependency {
                    name: "cache".into(),
                    condition: DependencyCondition::ServiceStarted
                },
            ]
        );
        let d: Vec<_> = deps("{db: {condition: service_healthy}, cache: , job: {condition: service_completed_successfully}}")
            .unwrap()
            .into_iter()
            .map(|(d, _)| d.condition)
            .collect();
        assert_eq!(
            d,
            vec![
                DependencyCondition::ServiceHealthy,
                DependencyCondition::ServiceStarted,
                DependencyCondition::ServiceCompletedSuccessfully
            ]
        );
    }

    #[test]
    fn depends_on_errors() {
        let e = deps("{db: {condition: service_ready}}").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 30));
        assert_eq!(e.message, format!("depends_on.db.condition: \"service_ready\": unknown condition (expected {CONDITION})"));
        let e = deps("[db, db]").unwrap_err();
        assert_eq!((e.at.line(), e.at.column()), (1, 18));
        assert!(e.message.contains("listed twice"));
        let e = deps("['-x']").unwrap_err();
        assert!(e.message.contains("not a valid container name"));
        let e = deps("{db: {required: true}}").unwrap_err();
        assert!(
            e.message
                .starts_with("depends_on.db.required: unknown field"),
            "{}",
            e.message
        );
    }
}
