//! The container's process: arguments, environment, working directory and
//! user, from the image config overridden by the manifest as docker does.

use oci_spec::image::Config;

use super::SpecError;
use crate::manifest::Manifest;

/// docker's default PATH when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Entrypoint + Cmd, following docker's table:
///
/// | manifest                  | runs                                  |
/// |---------------------------|---------------------------------------|
/// | —                         | image Entrypoint + image Cmd          |
/// | `command`                 | image Entrypoint + `command`          |
/// | `entrypoint`              | `entrypoint` (image Cmd is dropped)   |
/// | `entrypoint` + `command`  | `entrypoint` + `command`              |
pub(crate) fn args(m: &Manifest, image: Option<&Config>) -> Result<Vec<String>, SpecError> {
    let image_entrypoint = image
        .and_then(|c| c.entrypoint().clone())
        .unwrap_or_default();
    let image_cmd = image.and_then(|c| c.cmd().clone()).unwrap_or_default();
    let entrypoint = m.entrypoint.clone().unwrap_or(image_entrypoint);
    let cmd = match (&m.command, &m.entrypoint) {
        (Some(c), _) => c.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => image_cmd,
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(args)
}

/// Replaces `KEY=…` in `env` or appends it (docker's ReplaceOrAppendEnvValues).
fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.to_string(),
        None => env.push((key.to_string(), value.to_string())),
    }
}

/// The environment in docker's order: PATH, HOSTNAME, TERM (tty only), then
/// the image's variables, then the manifest's, each replacing an earlier
/// one of the same name; HOME from /etc/passwd when nothing set it.
pub(crate) fn env(m: &Manifest, image: Option<&Config>, hostname: &str, home: &str) -> Vec<String> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOSTNAME".into(), hostname.into()),
    ];
    if m.tty {
        env.push(("TERM".into(), "xterm".into()));
    }
    for entry in image.and_then(|c| c.env().as_ref()).into_iter().flatten() {
        match entry.split_once('=') {
            Some((k, v)) if !k.is_empty() => set(&mut env, k, v),
            _ => {
                tracing::warn!(container = %m.name, entry, "ignoring image environment entry without KEY=")
            }
        }
    }
    for (k, v) in &m.environment {
        set(&mut env, k, v);
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".into(), home.into()));
    }
    env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// `working_dir`, else the image's WorkingDir, else `/`.
pub(crate) fn cwd(m: &Manifest, image: Option<&Config>) -> String {
    if let Some(dir) = &m.working_dir {
        return dir.display().to_string();
    }
    match image.and_then(|c| c.working_dir().as_deref()) {
        Some(dir) if !dir.is_empty() => {
            if dir.starts_with('/') {
                dir.to_string()
            } else {
                format!("/{dir}")
            }
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::load_str;
    use oci_spec::image::ConfigBuilder;
    use std::path::Path;

    fn manifest(yaml: &str) -> Manifest {
        load_str(&format!("image: a\n{yaml}"), Path::new("web.yaml")).unwrap()
    }

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> Config {
        let mut b = ConfigBuilder::default();
        if let Some(e) = entrypoint {
            b = b.entrypoint(e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
        if let Some(c) = cmd {
            b = b.cmd(c.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        }
        b.build().unwrap()
    }

    fn run(yaml: &str, img: &Config) -> Result<Vec<String>, SpecError> {
        args(&manifest(yaml), Some(img))
    }

    /// docker's documented table of ENTRYPOINT / CMD interaction, plus the
    /// manifest overrides on top of each image.
    #[test]
    fn entrypoint_and_cmd_table() {
        let exec_form = image(Some(&["/entry", "e1"]), Some(&["c1", "c2"]));
        assert_eq!(run("", &exec_form).unwrap(), ["/entry", "e1", "c1", "c2"]);
        assert_eq!(
            run("command: [x, y]", &exec_form).unwrap(),
            ["/entry", "e1", "x", "y"]
        );
        assert_eq!(run("entrypoint: [/other]", &exec_form).unwrap(), ["/other"]);
        assert_eq!(
            run("entrypoint: /other -v\ncommand: run", &exec_form).unwrap(),
            ["/other", "-v", "run"]
        );
        assert_eq!(
            run("entrypoint: []", &exec_form).unwrap_err().to_string(),
            SpecError::NoCommand.to_string()
        );
        assert_eq!(
            run("entrypoint: []\ncommand: [sh]", &exec_form).unwrap(),
            ["sh"]
        );

        let cmd_only = image(None, Some(&["nginx", "-g", "daemon off;"]));
        assert_eq!(run("", &cmd_only).unwrap(), ["nginx", "-g", "daemon off;"]);
        assert_eq!(run("command: sh", &cmd_only).unwrap(), ["sh"]);
        assert_eq!(
            run("entrypoint: [/bin/tini, --]", &cmd_only).unwrap(),
            ["/bin/tini", "--"]
        );

        let entry_only = image(Some(&["/app"]), None);
        assert_eq!(run("", &entry_only).unwrap(), ["/app"]);
        assert_eq!(
            run("command: [--flag]", &entry_only).unwrap(),
            ["/app", "--flag"]
        );

        let nothing = image(None, None);
        assert!(matches!(run("", &nothing), Err(SpecError::NoCommand)));
        assert_eq!(run("command: [true]", &nothing).unwrap(), ["true"]);
        assert!(matches!(
            args(&manifest(""), None),
            Err(SpecError::NoCommand)
        ));
    }

    #[test]
    fn environment_order_and_overrides() {
        let img = ConfigBuilder::default()
            .env(vec![
                "PATH=/opt/bin:/usr/bin".to_string(),
                "LANG=C".to_string(),
                "BROKEN".to_string(),
                "HOME=/srv".to_string(),
            ])
            .build()
            .unwrap();
        let m = manifest("environment: {LANG: C.UTF-8, HOSTNAME: custom, EXTRA: '1'}\ntty: true");
        assert_eq!(
            env(&m, Some(&img), "web", "/root"),
            [
                "PATH=/opt/bin:/usr/bin",
                "HOSTNAME=custom",
                "TERM=xterm",
                "LANG=C.UTF-8",
                "HOME=/srv",
                "EXTRA=1"
            ]
        );
    }

    #[test]
    fn environment_defaults() {
        let m = manifest("");
        assert_eq!(
            env(&m, None, "web", "/root"),
            [
                format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=web".into(),
                "HOME=/root".into()
            ]
        );
    }

    #[test]
    fn working_directory() {
        let img = ConfigBuilder::default()
            .working_dir("/app")
            .build()
            .unwrap();
        assert_eq!(cwd(&manifest(""), Some(&img)), "/app");
        assert_eq!(cwd(&manifest("working_dir: /srv"), Some(&img)), "/srv");
        assert_eq!(cwd(&manifest(""), None), "/");
        let relative = ConfigBuilder::default().working_dir("app").build().unwrap();
        assert_eq!(cwd(&manifest(""), Some(&relative)), "/app");
    }
}
