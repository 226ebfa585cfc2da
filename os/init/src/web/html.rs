//! Server-rendered HTML: an escape helper every dynamic value goes through,
//! the page frame (inline CSS, no external assets), action buttons as forms
//! carrying the CSRF token, the log view (EventSource), and live sections:
//! the page fetches itself every few seconds and swaps in their new
//! rendering, so state shown in one place is rendered by the server only.

use axum::response::Html;

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin-bottom:1.5em}\
td,th{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}form{display:inline;margin:0}\
button{margin-right:.3em;cursor:pointer}\
pre#log{background:#111;color:#ddd;padding:.7em;max-height:60vh;overflow:auto;white-space:pre-wrap}\
.running,.healthy{color:#080}.stopped,.exited{color:#666}\
.backoff,.failed,.restarting,.unhealthy,.invalid{color:#b00}\
code{font-size:90%}a{color:#035}";

/// Refreshes every `[data-live]` element from a new rendering of the page
/// (scripts in the fetched page do not run; the log stream stays open).
/// Not within a second of a press, so a click on a button in a live
/// section lands on the button it was meant for.
const LIVE_SCRIPT: &str = "<script>(function(){var ls=document.querySelectorAll('[data-live]'),pressed=0;\
document.addEventListener('pointerdown',function(){pressed=Date.now();},true);\
setInterval(function(){fetch(location.pathname,{headers:{'Accept':'text/html'}})\
.then(function(r){return r.ok?r.text():null;}).then(function(t){if(!t||Date.now()-pressed<1000)return;\
var d=new DOMParser().parseFromString(t,'text/html');ls.forEach(function(e){\
var n=d.getElementById(e.id);if(n&&n.innerHTML!==e.innerHTML)e.innerHTML=n.innerHTML;});})\
.catch(function(){});},3000);})();</script>";

/// A whole page. `title` is escaped here; `body` must already be safe.
pub fn page(hostname: &str, title: &str, body: &str) -> Html<String> {
    let live = if body.contains(" data-live>") {
        LIVE_SCRIPT
    } else {
        ""
    };
    Html(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\">\
<title>{t} — {h}</title><style>{STYLE}</style></head><body>\
<p><a href=\"/\">{h}</a></p><h1>{t}</h1>\n{body}\n{live}</body></html>\n",
        t = esc(title),
        h = esc(hostname),
    ))
}

/// A section the page keeps up to date (see `LIVE_SCRIPT`); `id` must be
/// unique on the page, `inner` already safe.
pub fn live(id: &str, inner: &str) -> String {
    format!("<div id=\"{}\" data-live>{inner}</div>", esc(id))
}

/// A POST button: `action` and `back` are paths built from escaped parts.
pub fn button(action: &str, label: &str, back: &str, token: &str, confirm: Option<&str>) -> String {
    let onsubmit = confirm
        .map(|c| format!(" onsubmit=\"return confirm('{}')\"", esc(c)))
        .unwrap_or_default();
    format!(
        "<form method=\"post\" action=\"{a}\"{onsubmit}>\
<input type=\"hidden\" name=\"csrf\" value=\"{t}\">\
<input type=\"hidden\" name=\"back\" value=\"{b}\">\
<button type=\"submit\" name=\"do\" value=\"{l}\">{l}</button></form>",
        a = esc(action),
        t = esc(token),
        b = esc(back),
        l = esc(label),
    )
}

/// start / stop / restart buttons for `base` (`/services/NAME`).
pub fn actions(base: &str, back: &str, token: &str) -> String {
    ["start", "stop", "restart"]
        .iter()
        .map(|a| button(&format!("{base}/{a}"), a, back, token, None))
        .collect()
}

/// The log box: filled with `lines` for readers without JavaScript, then
/// replaced by the live stream from `stream_url` (kept lines, then new ones).
pub fn log_view(lines: &[String], stream_url: &str) -> String {
    let text: String = lines.iter().map(|l| format!("{}\n", esc(l))).collect();
    format!(
        "<h2>Logs</h2><p id=\"logstate\">…</p><pre id=\"log\">{text}</pre>\
<script>(function(){{var pre=document.getElementById('log'),st=document.getElementById('logstate');\
var es=new EventSource('{url}');\
es.onopen=function(){{pre.textContent='';st.textContent='live';}};\
es.onerror=function(){{st.textContent='reconnecting…';}};\
function add(t){{var end=pre.scrollTop+pre.clientHeight>=pre.scrollHeight-4;\
pre.appendChild(document.createTextNode(t+'\\n'));if(end)pre.scrollTop=pre.scrollHeight;}}\
es.onmessage=function(e){{add(e.data);}};\
es.addEventListener('skipped',function(e){{add('[… '+e.data+' lines skipped]');}});}})();</script>",
        url = esc(stream_url),
    )
}

/// `-` for unknown values.
pub fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| esc(&v.to_string())).unwrap_or_else(|| "-".into())
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(3700), "1h 1m");
        assert_eq!(duration(90000), "1d 1h");
    }

    #[test]
    fn log_view_escapes_lines() {
        let v = log_view(&["<script>x</script>".into()], "/services/a/logs");
        assert!(v.contains("&lt;script&gt;x&lt;/script&gt;"));
    }
}
