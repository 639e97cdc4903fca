//! The development issuer's sign-in pages, rendered by a real browser (Debian's chromium,
//! headless) and read back as the DOM it built (issue 10: literal backticks on the page, errors
//! styled like normal text, a success page pointing at users "below" that are not there, Deny
//! looking like Approve).

use std::process::Command;

use zt_testkit::dev_idp::DevIdp;
use zt_testkit::http::{block_on, client};
use zt_testkit::{Peer, require_peers, tempdir};

/// The DOM chromium builds for `url`.
fn rendered(url: &str) -> String {
    let profile = tempdir();
    let out = Command::new("chromium")
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A page's HTML as served, rendered from a file (for the answers to a POST).
fn rendered_html(html: &str) -> String {
    let dir = tempdir();
    let file = dir.path().join("page.html");
    std::fs::write(&file, html).unwrap();
    rendered(&format!("file://{}", file.display()))
}

/// What a person reads: the body's text, tags and styles dropped, entities decoded.
fn visible_text(dom: &str) -> String {
    let body = dom.split("<body").nth(1).unwrap_or(dom);
    let mut text = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    // Inline elements (`<code>`) split words in this rough rendering; read it as one line.
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The checks every page passes: its marker, the banner, a heading, and no markup or
/// formatting characters in what is shown.
fn check_page(dom: &str, kind: &str) -> String {
    assert!(
        dom.contains(&format!(r#"<meta name="zt-dev-page" content="{kind}">"#)),
        "{kind}: marker missing:\n{dom}"
    );
    assert!(
        dom.contains(r#"class="banner""#),
        "{kind}: no banner:\n{dom}"
    );
    assert!(dom.contains("<h1>"), "{kind}: no heading:\n{dom}");
    let text = visible_text(dom);
    for leak in ['`', '<', '>', '{', '}'] {
        assert!(
            !text.contains(leak),
            "{kind}: {leak:?} shown on the page: {text}"
        );
    }
    assert!(
        !text.contains("&"),
        "{kind}: an entity shown as text: {text}"
    );
    text
}

fn device_code(issuer: &str) -> String {
    let answer: serde_json::Value = block_on(async {
        client()
            .post(format!("{issuer}/device_authorization"))
            .form(&[("client_id", "zt"), ("scope", "openid email groups")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    answer["user_code"].as_str().unwrap().to_owned()
}

/// POST the decide page's form with `choice` (`user=alice` or `deny=1`); the answer's HTML.
fn decide(issuer: &str, code: &str, choice: (&str, &str), reuse: Option<&str>) -> (String, String) {
    let page = zt_testkit::http::get_text(&format!("{issuer}/device?user_code={code}"));
    let token = reuse.map(str::to_owned).unwrap_or_else(|| {
        page.split(r#"name="form_token" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a form token")
            .to_owned()
    });
    let answer = block_on(async {
        client()
            .post(format!("{issuer}/device"))
            .form(&[("user_code", code), ("form_token", &token), choice])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    (answer, token)
}

#[test]
fn the_sign_in_pages_render_cleanly_in_a_real_browser() {
    if !require_peers(&[Peer::Chromium]) {
        return;
    }
    let idp = DevIdp::start_manual();
    let issuer = &idp.issuer;

    let enter = rendered(&format!("{issuer}/device"));
    check_page(&enter, "enter-code");
    assert!(
        enter.contains(r#"id="user_code""#),
        "no code field:\n{enter}"
    );

    // A wrong code: the notice is an error, shown as one, naming the command without backticks.
    let wrong = rendered(&format!("{issuer}/device?user_code=BCDF-BCDF"));
    let text = check_page(&wrong, "enter-code");
    assert!(
        wrong.contains(r#"class="error""#),
        "the error is not styled as one:\n{wrong}"
    );
    assert!(text.contains("run zt login again"), "{text}");
    assert!(wrong.contains("<code>zt login</code>"), "{wrong}");

    // The decision: approve buttons and a deny button that looks different.
    let code = device_code(issuer);
    let decide_page = rendered(&format!("{issuer}/device?user_code={code}"));
    check_page(&decide_page, "device-decide");
    let approvals = decide_page.matches(r#"class="approve""#).count();
    assert!(approvals >= 1, "no approve buttons:\n{decide_page}");
    assert_eq!(
        decide_page.matches(r#"class="deny""#).count(),
        1,
        "{decide_page}"
    );
    assert!(
        decide_page.contains("button.deny"),
        "the deny button has no style of its own"
    );

    // Approved: the success page, with no users to point at.
    let (approved, token) = decide(issuer, &code, ("user", "alice"), None);
    let text = check_page(&rendered_html(&approved), "approved");
    assert!(!text.contains("below"), "{text}");
    assert!(text.contains("Approved as alice"), "{text}");

    // The same form again: an error page, styled as one.
    let (stale, _) = decide(issuer, &code, ("user", "alice"), Some(&token));
    let stale = rendered_html(&stale);
    check_page(&stale, "error");
    assert!(stale.contains(r#"class="error""#), "{stale}");

    // Denied.
    let other = device_code(issuer);
    let (denied, _) = decide(issuer, &other, ("deny", "1"), None);
    check_page(&rendered_html(&denied), "denied");
}
