//! A minimal "browser" for the test IdP's pages: a cookie jar, redirects, and a reader
//! for the machine-readable markers `tests/idp/server.mjs` puts on each page.
//!
//! The pages are ours, so the reader only understands their fixed shape:
//! `<meta name="zt-test-page" content="…">`, an optional `<meta name="zt-test-error" …>`,
//! and `<form data-zt-form="…" method="post" action="…">` with hidden inputs.

use std::time::Duration;

use url::Url;

/// One posted form of a page: where it goes and its hidden fields.
#[derive(Debug, Clone)]
pub struct Form {
    pub name: String,
    pub action: String,
    pub fields: Vec<(String, String)>,
}

/// A page as a script sees it.
#[derive(Debug, Clone)]
pub struct Page {
    pub name: String,
    pub error: Option<String>,
    pub url: Url,
    pub status: u16,
    pub forms: Vec<Form>,
}

impl Page {
    /// `Ok` if this is the page `name` without an error; otherwise a description.
    pub fn expect(&self, name: &str) -> Result<&Page, String> {
        if self.name == name && self.error.is_none() {
            Ok(self)
        } else {
            Err(format!(
                "expected page `{name}`, got `{}`{} (HTTP {} at {})",
                self.name,
                self.error
                    .as_deref()
                    .map(|e| format!(" with error `{e}`"))
                    .unwrap_or_default(),
                self.status,
                self.url
            ))
        }
    }

    fn form(&self, name: &str) -> Result<&Form, String> {
        self.forms
            .iter()
            .find(|form| form.name == name)
            .ok_or_else(|| format!("page `{}` has no form `{name}`", self.name))
    }
}

/// A cookie-keeping HTTP client that follows redirects, like a browser.
pub struct Browser {
    client: reqwest::Client,
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .timeout(Duration::from_secs(10))
                .build()
                .expect("build the browser's HTTP client"),
        }
    }

    pub async fn get(&self, url: &str) -> Result<Page, String> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        read_page(response).await
    }

    /// Posts form `form` of `page`: its hidden fields plus `visible` (what a user types).
    pub async fn submit(
        &self,
        page: &Page,
        form: &str,
        visible: &[(&str, &str)],
    ) -> Result<Page, String> {
        let form = page.form(form)?;
        let action = page
            .url
            .join(&form.action)
            .map_err(|e| format!("bad form action {:?}: {e}", form.action))?;
        let mut fields: Vec<(&str, &str)> = form
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        fields.extend_from_slice(visible);
        let response = self
            .client
            .post(action.clone())
            .form(&fields)
            .send()
            .await
            .map_err(|e| format!("POST {action}: {e}"))?;
        read_page(response).await
    }
}

async fn read_page(response: reqwest::Response) -> Result<Page, String> {
    let url = response.url().clone();
    let status = response.status().as_u16();
    let html = response
        .text()
        .await
        .map_err(|e| format!("read {url}: {e}"))?;
    let Some(name) = meta(&html, "zt-test-page") else {
        let start: String = html.chars().take(300).collect();
        return Err(format!("HTTP {status} at {url} is no test page: {start}"));
    };
    Ok(Page {
        name,
        error: meta(&html, "zt-test-error"),
        url,
        status,
        forms: forms(&html),
    })
}

fn meta(html: &str, name: &str) -> Option<String> {
    let tag = html
        .split("<meta ")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap_or(rest.len())])
        .find(|tag| attr(tag, "name").as_deref() == Some(name))?;
    attr(tag, "content")
}

fn forms(html: &str) -> Vec<Form> {
    html.split("<form ")
        .skip(1)
        .filter_map(|rest| {
            let body = &rest[..rest.find("</form>").unwrap_or(rest.len())];
            let tag = &body[..body.find('>')?];
            let fields = body
                .split("<input ")
                .skip(1)
                .map(|input| &input[..input.find('>').unwrap_or(input.len())])
                .filter(|input| attr(input, "type").as_deref() == Some("hidden"))
                .filter_map(|input| Some((attr(input, "name")?, attr(input, "value")?)))
                .collect();
            Some(Form {
                name: attr(tag, "data-zt-form")?,
                action: attr(tag, "action")?,
                fields,
            })
        })
        .collect()
}

/// The value of attribute `name="…"` in the inside of a tag, HTML-unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let mut search = tag;
    loop {
        let at = search.find(&needle)?;
        // Only whole attribute names: `name=` must not match inside `data-name=`.
        let whole = at == 0 || search.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = &search[at + needle.len()..];
        if whole {
            return Some(unescape(&rest[..rest.find('"')?]));
        }
        search = rest;
    }
}

fn unescape(value: &str) -> String {
    value
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!DOCTYPE html><html><head>
<meta charset="utf-8">
<meta name="zt-test-page" content="device-confirm">
</head><body>
<form data-zt-form="confirm" method="post" action="http://127.0.0.1:1/device">
<input type="hidden" name="xsrf" value="a&amp;b">
<input type="hidden" name="user_code" value="ABCD-EFGH">
<input type="text" name="ignored">
</form>
<form data-zt-form="abort" method="post" action="/device">
<input type="hidden" name="abort" value="yes">
</form></body></html>"#;

    #[test]
    fn reads_markers_and_hidden_fields() {
        assert_eq!(
            meta(PAGE, "zt-test-page").as_deref(),
            Some("device-confirm")
        );
        assert_eq!(meta(PAGE, "zt-test-error"), None);
        let forms = forms(PAGE);
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].name, "confirm");
        assert_eq!(
            forms[0].fields,
            vec![
                ("xsrf".to_owned(), "a&b".to_owned()),
                ("user_code".to_owned(), "ABCD-EFGH".to_owned())
            ]
        );
        assert_eq!(forms[1].action, "/device");
    }
}
