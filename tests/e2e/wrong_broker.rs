//! `--broker` pointing at something that is not a zt broker: the error names the URL, says
//! what was expected, and exits 7 (configuration), not 1 (issue 10).

use super::fixture::User;
use zt_testkit::web::FixedWeb;

fn login(url: &str) -> super::fixture::Run {
    User::new().run(&["login", "--json", "--broker", url])
}

#[test]
fn a_web_server_that_is_not_a_broker_is_a_configuration_error_naming_the_url() {
    for (status, content_type, body, what) in [
        (
            "404 Not Found",
            "text/html",
            "<h1>Not Found</h1>",
            "answered 404 Not Found",
        ),
        (
            "200 OK",
            "text/html",
            "<html>welcome</html>",
            "answered text/html",
        ),
        (
            "200 OK",
            "application/json",
            r#"{"hello":"world"}"#,
            "answered JSON that is not zt's",
        ),
    ] {
        let web = FixedWeb::start(status, content_type, body);
        let run = login(&web.url);
        assert_eq!(run.code, Some(7), "{status} {content_type}: {run:?}");
        let url = format!("{}/.well-known/zt-configuration", web.url);
        for expected in [
            format!("{} is not a zt broker", web.url),
            format!("GET {url} {what}"),
            "check --broker".to_owned(),
        ] {
            assert!(
                run.stderr.contains(&expected),
                "{expected:?} not in {}",
                run.stderr
            );
        }
        let doc = &run.json_lines()[0];
        assert_eq!(doc["error"]["code"], "config", "{run:?}");
        assert_eq!(doc["error"]["exit_code"], 7, "{run:?}");
    }
}

#[test]
fn a_broker_behind_a_failing_proxy_is_unavailable_not_misconfigured() {
    let web = FixedWeb::start("502 Bad Gateway", "text/html", "<h1>Bad Gateway</h1>");
    let run = login(&web.url);
    assert_eq!(run.code, Some(6), "{run:?}");
    assert!(run.stderr.contains("unavailable"), "{}", run.stderr);
}
